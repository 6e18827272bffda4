/**
 * The initiator's half of a CHAP exchange (RFC 7143 §12.1.3):
 *
 *     I -> T  CHAP_A=<A1,A2,...>
 *     T -> I  CHAP_A=<A> CHAP_I=<I> CHAP_C=<C>
 *     I -> T  CHAP_N=<N> CHAP_R=<R>   [mutual: CHAP_I=<I> CHAP_C=<C>]
 *     T -> I  [mutual: CHAP_N=<N> CHAP_R=<R>]
 *
 * Pure steps: the login machine passes the target's security keys in and sends what comes out.
 */
import type { TextPair } from '../text/codec.js';
import { parseNumberInRange } from '../text/values.js';
import {
  chapAlgorithmName,
  chapDigestLength,
  chapResponse,
  chapResponsesEqual,
  defaultChallengeLength,
  formatChapBinary,
  isChapAlgorithmId,
  parseChapBinary,
  type ChapAlgorithmId,
  type ChapCredentials,
} from './chap.js';
import { LoginError, type LoginErrorCode } from './errors.js';
import { randomBytesFrom, randomU8, type RandomSource } from './random.js';

/** Options of a {@link ChapInitiatorExchange}. */
export interface ChapInitiatorOptions {
  /** Our CHAP_N and secret. */
  readonly credentials: ChapCredentials;
  /** The target's CHAP_N and secret: set for mutual CHAP. */
  readonly mutual?: ChapCredentials | undefined;
  /** Algorithms to offer, in order of preference (already checked). */
  readonly algorithms: readonly ChapAlgorithmId[];
  /** Shortest challenge accepted from the target. */
  readonly minPeerChallengeBytes: number;
  /** Randomness for our mutual challenge and identifier. */
  readonly random: RandomSource;
}

function fail(code: LoginErrorCode, message: string, key?: string): never {
  throw new LoginError(code, message, { detectedBy: 'initiator', ...(key === undefined ? {} : { key }) });
}

/** One CHAP exchange, initiator side. */
export class ChapInitiatorExchange {
  readonly #options: ChapInitiatorOptions;
  #step: 'offer' | 'await-challenge' | 'await-target-response' | 'done' = 'offer';
  #algorithm: ChapAlgorithmId | undefined;
  #ourIdentifier = 0;
  #ourChallenge: Buffer | undefined;

  constructor(options: ChapInitiatorOptions) {
    this.#options = options;
  }

  /** The algorithm the target chose, once it has. */
  get algorithm(): ChapAlgorithmId | undefined {
    return this.#algorithm;
  }

  /** True once our response is sent and, for mutual CHAP, the target's response checked. */
  get done(): boolean {
    return this.#step === 'done';
  }

  /** True while we wait for the target's CHAP_N/CHAP_R (mutual CHAP). */
  get awaitingTargetResponse(): boolean {
    return this.#step === 'await-target-response';
  }

  /** Step 1: CHAP_A with our algorithms. */
  offer(): TextPair[] {
    this.#step = 'await-challenge';
    return [{ key: 'CHAP_A', value: this.#options.algorithms.join(',') }];
  }

  /**
   * Step 3: from the target's CHAP_A, CHAP_I and CHAP_C, our CHAP_N and CHAP_R (and, for mutual CHAP, our own
   * CHAP_I and CHAP_C). Throws {@link LoginError} when the target's values are unacceptable.
   */
  respond(keys: ReadonlyMap<string, string>): TextPair[] {
    if (this.#step !== 'await-challenge') fail('ERR_LOGIN_PROTOCOL', 'the target sent a CHAP challenge out of turn');
    const a = keys.get('CHAP_A');
    const i = keys.get('CHAP_I');
    const c = keys.get('CHAP_C');
    if (a === 'Reject' || a === 'NotUnderstood' || a === 'Irrelevant') {
      fail(
        'ERR_LOGIN_AUTHENTICATION_FAILED',
        `the target accepts none of the CHAP algorithms offered (CHAP_A=${this.#options.algorithms.join(',')}; ` +
          `it answered ${a})`,
        'CHAP_A',
      );
    }
    if (a === undefined || i === undefined || c === undefined) {
      fail('ERR_LOGIN_PROTOCOL', 'the target did not send CHAP_A, CHAP_I and CHAP_C together');
    }
    const code = /^[0-9]{1,3}$/.test(a) ? Number(a) : NaN;
    if (!isChapAlgorithmId(code) || !this.#options.algorithms.includes(code)) {
      fail('ERR_LOGIN_PROTOCOL', `the target chose CHAP_A=${a.slice(0, 20)}, which was not offered`, 'CHAP_A');
    }
    const identifier = parseNumberInRange(i, 0, 255);
    if (identifier === undefined) fail('ERR_LOGIN_PROTOCOL', 'CHAP_I is not a number in 0..255', 'CHAP_I');
    const challenge = parseChapBinary(c);
    if (challenge === undefined) {
      fail('ERR_LOGIN_PROTOCOL', 'CHAP_C is not a hex or base64 value of 1..1024 bytes', 'CHAP_C');
    }
    if (challenge.length < this.#options.minPeerChallengeBytes) {
      fail(
        'ERR_LOGIN_AUTHENTICATION_FAILED',
        `the target's CHAP challenge is ${challenge.length} bytes, fewer than the ${this.#options.minPeerChallengeBytes} accepted`,
        'CHAP_C',
      );
    }
    this.#algorithm = code;
    const { credentials, mutual } = this.#options;
    const reply: TextPair[] = [
      { key: 'CHAP_N', value: credentials.user },
      { key: 'CHAP_R', value: formatChapBinary(chapResponse(code, identifier, credentials.secret, challenge)) },
    ];
    if (mutual === undefined) {
      this.#step = 'done';
      return reply;
    }
    this.#ourIdentifier = randomU8(this.#options.random, 'initiator');
    this.#ourChallenge = this.#freshChallenge(code, challenge);
    reply.push(
      { key: 'CHAP_I', value: String(this.#ourIdentifier) },
      { key: 'CHAP_C', value: formatChapBinary(this.#ourChallenge) },
    );
    this.#step = 'await-target-response';
    return reply;
  }

  /** A challenge that differs from the target's: an equal one would be refused as a reflection. */
  #freshChallenge(algorithm: ChapAlgorithmId, targetChallenge: Buffer): Buffer {
    const length = defaultChallengeLength(algorithm);
    const challenge = Buffer.from(randomBytesFrom(this.#options.random, length, 'initiator'));
    if (challenge.equals(targetChallenge)) challenge[0] = (challenge[0] ?? 0) ^ 0xff;
    return challenge;
  }

  /**
   * Step 4 (mutual CHAP): checks the target's CHAP_N and CHAP_R. Throws ERR_LOGIN_TARGET_AUTHENTICATION_FAILED
   * when the target does not prove it knows its secret, or answers with our own secret (RFC 7143 §9.2.1).
   */
  verifyTarget(keys: ReadonlyMap<string, string>): void {
    const mutual = this.#options.mutual;
    const algorithm = this.#algorithm;
    const challenge = this.#ourChallenge;
    if (this.#step !== 'await-target-response' || mutual === undefined || algorithm === undefined || !challenge) {
      fail('ERR_LOGIN_PROTOCOL', 'the target sent a CHAP response that was not asked for');
    }
    const name = keys.get('CHAP_N');
    const r = keys.get('CHAP_R');
    const refuse: (why: string, key?: string) => never = (why, key) =>
      fail('ERR_LOGIN_TARGET_AUTHENTICATION_FAILED', `mutual CHAP: ${why}`, key);
    if (name === undefined || r === undefined) refuse('the target did not send CHAP_N and CHAP_R');
    if (name !== mutual.user) refuse('the target authenticated under a different CHAP name', 'CHAP_N');
    const response = parseChapBinary(r);
    if (response === undefined || response.length !== chapDigestLength(algorithm)) {
      refuse(`CHAP_R is not a ${chapAlgorithmName(algorithm)} digest`, 'CHAP_R');
    }
    const ours = chapResponse(algorithm, this.#ourIdentifier, this.#options.credentials.secret, challenge);
    if (chapResponsesEqual(response, ours)) {
      refuse(
        'the target answered with the initiator’s own secret (RFC 7143 §9.2.1 forbids one secret for both directions)',
        'CHAP_R',
      );
    }
    const expected = chapResponse(algorithm, this.#ourIdentifier, mutual.secret, challenge);
    if (!chapResponsesEqual(response, expected)) refuse('the target’s response does not match its secret', 'CHAP_R');
    this.#step = 'done';
  }
}
