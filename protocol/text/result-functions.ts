/**
 * The result functions of RFC 7143 §6.2, as pure functions: how a responder answers an offer, and how an
 * originator checks the answer it gets back.
 */
import type { Preference } from './config.js';
import { TextError } from './errors.js';
import type { KeyDefinition } from './keys.js';
import {
  formatBoolean,
  isSpecialAnswer,
  parseBoolean,
  parseList,
  parseNumberInRange,
  SpecialAnswer,
} from './values.js';

/** A responder's answer to one offer. */
export interface OfferAnswer {
  /** The value to send back: the selected value, or Reject. */
  readonly answer: string;
  /** The negotiated value, or undefined when the key keeps its current value (Reject). */
  readonly result: string | undefined;
  /** True when the offer alone decided the result, so the answer is optional (RFC 7143 §6.2.2). */
  readonly determinedByOffer: boolean;
}

/**
 * List negotiation (RFC 7143 §6.2.1): the first value of the originator's list the responder supports. Values
 * the responder does not know are skipped; None is chosen only when offered. Undefined means Reject.
 */
export function selectFromList(offered: readonly string[], acceptable: readonly string[]): string | undefined {
  return offered.find((value) => acceptable.includes(value));
}

/** Boolean AND: the result is Yes only when both say Yes. */
export function andResult(offered: boolean, ours: boolean): boolean {
  return offered && ours;
}

/** Boolean OR: the result is Yes when either says Yes. */
export function orResult(offered: boolean, ours: boolean): boolean {
  return offered || ours;
}

/** True when the offered boolean alone fixes the result: No under AND, Yes under OR (RFC 7143 §6.2.2). */
export function offerDeterminesResult(result: 'and' | 'or', offered: boolean): boolean {
  return result === 'and' ? !offered : offered;
}

const REJECT: OfferAnswer = { answer: SpecialAnswer.Reject, result: undefined, determinedByOffer: false };

function accept(value: string, determinedByOffer = false): OfferAnswer {
  return { answer: value, result: value, determinedByOffer };
}

/**
 * Answers an offer of a negotiable key. A malformed or out-of-range value, or a list with nothing acceptable,
 * is answered with Reject (RFC 7143 §6.2.1, §6.2.2).
 */
export function answerOffer(def: KeyDefinition, offered: string, ours: Preference): OfferAnswer {
  switch (def.result) {
    case 'list': {
      const values = parseList(offered);
      if (values === undefined || ours.kind !== 'list') return REJECT;
      const chosen = selectFromList(values, ours.values);
      return chosen === undefined ? REJECT : accept(chosen);
    }
    case 'and':
    case 'or': {
      const value = parseBoolean(offered);
      if (value === undefined || ours.kind !== 'boolean') return REJECT;
      const result = def.result === 'and' ? andResult(value, ours.value) : orResult(value, ours.value);
      return accept(formatBoolean(result), offerDeterminesResult(def.result, value));
    }
    case 'min':
    case 'max': {
      if (def.range === undefined || ours.kind !== 'number') return REJECT;
      const value = parseNumberInRange(offered, def.range.min, def.range.max);
      if (value === undefined) return REJECT;
      return accept(String(def.result === 'min' ? Math.min(value, ours.value) : Math.max(value, ours.value)));
    }
    case 'declarative':
    case 'exchange':
      return REJECT;
  }
}

function badAnswer(def: KeyDefinition, offered: string, answer: string): never {
  throw new TextError(
    'ERR_TEXT_BAD_ANSWER',
    `${def.name}: answer ${JSON.stringify(answer.slice(0, 80))} is not admissible for the offer ${JSON.stringify(offered)}`,
    { key: def.name },
  );
}

/**
 * Checks the peer's answer to our offer and returns the negotiated value, or undefined when the key keeps its
 * current value (Reject, Irrelevant, NotUnderstood). Throws ERR_TEXT_BAD_ANSWER when the selection rules do not
 * admit the answer (RFC 7143 §6.2: a protocol error).
 */
export function checkAnswer(def: KeyDefinition, offered: string, answer: string): string | undefined {
  if (isSpecialAnswer(answer)) return undefined;
  switch (def.result) {
    case 'list': {
      const ourValues = parseList(offered) ?? [];
      if (!ourValues.includes(answer)) badAnswer(def, offered, answer);
      return answer;
    }
    case 'and':
    case 'or': {
      const ours = parseBoolean(offered);
      const theirs = parseBoolean(answer);
      if (ours === undefined || theirs === undefined) badAnswer(def, offered, answer);
      // AND cannot turn our No into Yes; OR cannot turn our Yes into No.
      if (offerDeterminesResult(def.result, ours) && theirs !== ours) badAnswer(def, offered, answer);
      return answer;
    }
    case 'min':
    case 'max': {
      const range = def.range ?? { min: 0, max: 0 };
      const ours = Number(offered);
      const theirs = parseNumberInRange(answer, range.min, range.max);
      if (theirs === undefined) badAnswer(def, offered, answer);
      if (def.result === 'min' ? theirs > ours : theirs < ours) badAnswer(def, offered, answer);
      return String(theirs);
    }
    case 'declarative':
    case 'exchange':
      return badAnswer(def, offered, answer);
  }
}
