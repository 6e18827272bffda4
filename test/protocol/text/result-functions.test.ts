import { describe, expect, it } from 'vitest';
import type { Preference } from '../../../protocol/text/config.js';
import { TextError } from '../../../protocol/text/errors.js';
import { lookupKey, type KeyDefinition } from '../../../protocol/text/keys.js';
import { answerOffer, checkAnswer, selectFromList } from '../../../protocol/text/result-functions.js';

function def(name: string): KeyDefinition {
  const found = lookupKey(name);
  if (found === undefined) throw new Error(`no key ${name}`);
  return found;
}
const list = (...values: string[]): Preference => ({ kind: 'list', values });
const bool = (value: boolean): Preference => ({ kind: 'boolean', value });
const num = (value: number): Preference => ({ kind: 'number', value });

describe('list negotiation (RFC 7143 §6.2.1)', () => {
  it('picks the first value of the originator list that the responder supports', () => {
    expect(answerOffer(def('HeaderDigest'), 'CRC32C,None', list('None', 'CRC32C')).answer).toBe('CRC32C');
    expect(answerOffer(def('HeaderDigest'), 'None,CRC32C', list('CRC32C', 'None')).answer).toBe('None');
    expect(answerOffer(def('HeaderDigest'), 'CRC32C,None', list('None')).answer).toBe('None');
  });

  it('skips values it does not understand', () => {
    expect(answerOffer(def('DataDigest'), 'X-vendor-digest,CRC32C', list('CRC32C')).answer).toBe('CRC32C');
  });

  it('answers Reject when nothing offered is acceptable: None is chosen only when offered', () => {
    const answer = answerOffer(def('HeaderDigest'), 'CRC32C', list('None'));
    expect(answer).toEqual({ answer: 'Reject', result: undefined, determinedByOffer: false });
    expect(selectFromList(['CRC32C'], ['None'])).toBeUndefined();
  });

  it('answers Reject for a malformed list', () => {
    expect(answerOffer(def('HeaderDigest'), 'CRC32C,,None', list('None')).answer).toBe('Reject');
  });

  it('checks the answer is one of the offered values', () => {
    expect(checkAnswer(def('HeaderDigest'), 'CRC32C,None', 'None')).toBe('None');
    expect(checkAnswer(def('HeaderDigest'), 'CRC32C,None', 'Reject')).toBeUndefined();
    expect(() => checkAnswer(def('HeaderDigest'), 'CRC32C', 'None')).toThrow(TextError);
    expect(() => checkAnswer(def('HeaderDigest'), 'CRC32C,None', 'CRC32C,None')).toThrow(TextError);
  });
});

describe('Boolean negotiation (RFC 7143 §6.2.2)', () => {
  it('AND (ImmediateData): Yes only when both say Yes; a received No decides the result', () => {
    expect(answerOffer(def('ImmediateData'), 'Yes', bool(true))).toMatchObject({
      answer: 'Yes',
      determinedByOffer: false,
    });
    expect(answerOffer(def('ImmediateData'), 'Yes', bool(false))).toMatchObject({
      answer: 'No',
      determinedByOffer: false,
    });
    expect(answerOffer(def('ImmediateData'), 'No', bool(true))).toMatchObject({
      answer: 'No',
      determinedByOffer: true,
    });
  });

  it('OR (InitialR2T): Yes when either says Yes; a received Yes decides the result', () => {
    expect(answerOffer(def('InitialR2T'), 'No', bool(false))).toMatchObject({ answer: 'No', determinedByOffer: false });
    expect(answerOffer(def('InitialR2T'), 'No', bool(true))).toMatchObject({ answer: 'Yes', determinedByOffer: false });
    expect(answerOffer(def('InitialR2T'), 'Yes', bool(false))).toMatchObject({
      answer: 'Yes',
      determinedByOffer: true,
    });
  });

  it('answers Reject for a value that is not Yes or No', () => {
    expect(answerOffer(def('DataPDUInOrder'), 'yes', bool(true)).answer).toBe('Reject');
  });

  it('refuses answers the function cannot produce', () => {
    expect(() => checkAnswer(def('ImmediateData'), 'No', 'Yes')).toThrow(TextError);
    expect(() => checkAnswer(def('InitialR2T'), 'Yes', 'No')).toThrow(TextError);
    expect(checkAnswer(def('ImmediateData'), 'Yes', 'No')).toBe('No');
    expect(checkAnswer(def('InitialR2T'), 'No', 'Yes')).toBe('Yes');
  });
});

describe('numerical negotiation (RFC 7143 §6.2.2)', () => {
  it('Min (MaxBurstLength): the smaller of the two', () => {
    expect(answerOffer(def('MaxBurstLength'), '262144', num(65536)).answer).toBe('65536');
    expect(answerOffer(def('MaxBurstLength'), '0x1000', num(65536)).answer).toBe('4096');
  });

  it('Max (DefaultTime2Wait): the larger of the two', () => {
    expect(answerOffer(def('DefaultTime2Wait'), '2', num(5)).answer).toBe('5');
    expect(answerOffer(def('DefaultTime2Wait'), '7', num(5)).answer).toBe('7');
  });

  it('answers Reject for a value out of range or malformed', () => {
    expect(answerOffer(def('MaxBurstLength'), '511', num(65536)).answer).toBe('Reject');
    expect(answerOffer(def('MaxBurstLength'), '16777216', num(65536)).answer).toBe('Reject');
    expect(answerOffer(def('ErrorRecoveryLevel'), '3', num(0)).answer).toBe('Reject');
    expect(answerOffer(def('DefaultTime2Wait'), '3601', num(2)).answer).toBe('Reject');
    expect(answerOffer(def('MaxConnections'), 'many', num(1)).answer).toBe('Reject');
  });

  it('refuses an answer above a Min offer or below a Max offer', () => {
    expect(checkAnswer(def('MaxBurstLength'), '65536', '4096')).toBe('4096');
    expect(() => checkAnswer(def('MaxBurstLength'), '65536', '65537')).toThrow(TextError);
    expect(() => checkAnswer(def('DefaultTime2Wait'), '5', '4')).toThrow(TextError);
    expect(() => checkAnswer(def('MaxBurstLength'), '65536', '100')).toThrow(TextError);
  });
});

describe('keys outside negotiation', () => {
  it('does not answer declarations or security exchanges as offers', () => {
    expect(answerOffer(def('MaxRecvDataSegmentLength'), '8192', num(8192)).answer).toBe('Reject');
    expect(() => checkAnswer(def('InitiatorName'), 'iqn.a', 'iqn.b')).toThrow(TextError);
  });
});
