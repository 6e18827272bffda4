/**
 * The target's half of a CHAP exchange (RFC 7143 §12.1.3, security rules of §9.2.1): choose an algorithm and
 * challenge, check the initiator's response, and for mutual CHAP answer the initiator's challenge.
 *
 * Every failure is a {@link LoginError} with status 0x0201 (authentication failure), which RFC 7143 §12.1.3
 * prescribes when the initiator's authentication fails; the message says why, for the target's own logs.
 */
import type { TextPair } from '../text/codec.js';
import { parseNumberInRange } from '../text/values.js';
import {
  checkChapSecret,
  chapAlgorithmName,
  chapDigestLength,
  chapResponse,
  chapResponsesEqual,
  defaultChallengeLength,
  formatChapBinary,
  isChapAlgorithmId,
  parseChapAlgorithmList,
  parseChapBinary,
  type ChapAlgorithmId,
  type ChapCredentials,
  type ChapSecret,
} from './chap.js';
import { LoginStatusPairs, targetLoginError } from './errors.js';
import { randomBytesFrom, randomU8, type RandomSource } from './random.js';

/** Options of a {@link ChapTargetExchange}. */
export interface ChapTargetOptions {
  /** Algorithms the target accepts (already checked); it takes the first of the initiator's list among them. */
  readonly algorithms: readonly ChapAlgorithmId[];
  /** Shortest challenge accepted from the initiator (mutual CHAP). */
  readonly minPeerChallengeBytes: number;
  /** Refuse a login that does not ask the target to authenticate itself. */
  readonly requireMutual: boolean;
  /** Accept secrets under 96 bits (interop testing); the exchange then reports `shortSecret`. */
  readonly allowShortSecrets: boolean;
  /** The secret of CHAP user `user`, or undefined for an unknown user. */
  readonly secretOf: (user: string) => ChapSecret | undefined;
  /** The target's own credentials for mutual CHAP, or undefined when none are configured. */
  readonly targetCredentials: () => ChapCredentials | undefined;
  /** Randomness for the identifier and challenge. */
  readonly random: RandomSource;
}

/** What the target learned once the initiator's response checked out. */
export interface ChapTargetOutcome {
  /** Pairs to send: CHAP_N and CHAP_R for mutual CHAP, else none. */
  readonly reply: readonly TextPair[];
  /** The CHAP name the initiator authenticated as. */
  readonly user: string;
  /** True when the initiator asked the target to authenticate itself. */
  readonly mutual: boolean;
  /** True when a secret shorter than 96 bits was used (only with `allowShortSecrets`). */
  readonly shortSecret: boolean;
}

function refuse(reason: string, key?: string): never {
  throw targetLoginError(LoginStatusPairs.AuthenticationFailure, `CHAP: ${reason}`, key === undefined ? {} : { key });
}

/** One CHAP exchange, target side. */
export class ChapTargetExchange {
  readonly #options: ChapTargetOptions;
  #step: 'await-algorithms' | 'await-response' | 'done' = 'await-algorithms';
  #algorithm: ChapAlgorithmId | undefined;
  #identifier = 0;
  #challenge: Buffer | undefined;

  constructor(options: ChapTargetOptions) {
    this.#options = options;
  }

  /** The algorithm chosen, once it is. */
  get algorithm(): ChapAlgorithmId | undefined {
    return this.#algorithm;
  }

  /** Which step the exchange waits for. */
  get step(): 'await-algorithms' | 'await-response' | 'done' {
    return this.#step;
  }

  /** Step 2: from the initiator's CHAP_A list, our CHAP_A, CHAP_I and CHAP_C. */
  challenge(offered: string): TextPair[] {
    if (this.#step !== 'await-algorithms') refuse('CHAP_A sent twice', 'CHAP_A');
    const codes = parseChapAlgorithmList(offered);
    if (codes === undefined) refuse('CHAP_A is not a list of algorithm numbers', 'CHAP_A');
    const chosen = codes.find(
      (code): code is ChapAlgorithmId => isChapAlgorithmId(code) && this.#options.algorithms.includes(code),
    );
    if (chosen === undefined) {
      refuse(
        `none of the offered algorithms (${codes.join(',')}) is enabled (${this.#options.algorithms.join(',')})`,
        'CHAP_A',
      );
    }
    this.#algorithm = chosen;
    this.#identifier = randomU8(this.#options.random, 'target');
    this.#challenge = Buffer.from(randomBytesFrom(this.#options.random, defaultChallengeLength(chosen), 'target'));
    this.#step = 'await-response';
    return [
      { key: 'CHAP_A', value: String(chosen) },
      { key: 'CHAP_I', value: String(this.#identifier) },
      { key: 'CHAP_C', value: formatChapBinary(this.#challenge) },
    ];
  }

  /** Step 3 → 4: checks CHAP_N/CHAP_R and, when the initiator sent CHAP_I/CHAP_C, answers them. */
  verify(keys: ReadonlyMap<string, string>): ChapTargetOutcome {
    const algorithm = this.#algorithm;
    const challenge = this.#challenge;
    if (this.#step !== 'await-response' || algorithm === undefined || challenge === undefined) {
      refuse('CHAP_N/CHAP_R before the challenge was sent');
    }
    const user = keys.get('CHAP_N');
    const r = keys.get('CHAP_R');
    if (user === undefined || r === undefined) refuse('the initiator did not send CHAP_N and CHAP_R');
    const response = parseChapBinary(r);
    if (response === undefined || response.length !== chapDigestLength(algorithm)) {
      refuse(`CHAP_R is not a ${chapAlgorithmName(algorithm)} digest`, 'CHAP_R');
    }
    const secret = this.#options.secretOf(user);
    if (secret === undefined) refuse(`unknown CHAP user ${JSON.stringify(user.slice(0, 80))}`, 'CHAP_N');
    const short = this.#checkSecret(secret, 'the CHAP secret configured for this initiator');
    const own = this.#options.targetCredentials();
    // RFC 7143 §9.2.1: a response made with our own secret means one secret serves both directions.
    if (
      own !== undefined &&
      chapResponsesEqual(response, chapResponse(algorithm, this.#identifier, own.secret, challenge))
    ) {
      refuse('the initiator answered with the target’s own secret (one secret for both directions)', 'CHAP_R');
    }
    if (!chapResponsesEqual(response, chapResponse(algorithm, this.#identifier, secret, challenge))) {
      refuse('the response does not match the secret', 'CHAP_R');
    }

    const i = keys.get('CHAP_I');
    const c = keys.get('CHAP_C');
    if (i === undefined && c === undefined) {
      if (this.#options.requireMutual) refuse('mutual CHAP is required but the initiator sent no CHAP_I/CHAP_C');
      this.#step = 'done';
      return { reply: [], user, mutual: false, shortSecret: short };
    }
    if (i === undefined || c === undefined)
      refuse('CHAP_I and CHAP_C must come together', i === undefined ? 'CHAP_I' : 'CHAP_C');
    const identifier = parseNumberInRange(i, 0, 255);
    if (identifier === undefined) refuse('CHAP_I is not a number in 0..255', 'CHAP_I');
    const theirChallenge = parseChapBinary(c);
    if (theirChallenge === undefined) refuse('CHAP_C is not a hex or base64 value of 1..1024 bytes', 'CHAP_C');
    // Reflection: answering our own challenge would hand the initiator the response it needs.
    if (theirChallenge.equals(challenge)) refuse('the initiator reflected the target’s challenge', 'CHAP_C');
    if (theirChallenge.length < this.#options.minPeerChallengeBytes) {
      refuse(
        `the initiator's challenge is ${theirChallenge.length} bytes, fewer than ${this.#options.minPeerChallengeBytes}`,
        'CHAP_C',
      );
    }
    if (own === undefined) refuse('mutual CHAP was asked for but the target has no credentials configured');
    const ownShort = this.#checkSecret(own.secret, 'the target’s mutual CHAP secret');
    this.#step = 'done';
    return {
      reply: [
        { key: 'CHAP_N', value: own.user },
        { key: 'CHAP_R', value: formatChapBinary(chapResponse(algorithm, identifier, own.secret, theirChallenge)) },
      ],
      user,
      mutual: true,
      shortSecret: short || ownShort,
    };
  }

  /** A configured secret too short to use is our fault: a target error, not the initiator's. */
  #checkSecret(secret: ChapSecret, what: string): boolean {
    try {
      return checkChapSecret(secret, { allowShortSecrets: this.#options.allowShortSecrets, what, role: 'target' })
        .short;
    } catch (err) {
      throw targetLoginError(LoginStatusPairs.TargetError, err instanceof Error ? err.message : String(err), {
        cause: err,
      });
    }
  }
}
