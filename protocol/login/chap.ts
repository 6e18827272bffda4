/**
 * CHAP as iSCSI uses it (RFC 1994 through RFC 7143 §12.1.3, security rules of §9.2.1): algorithms, the response
 * computation, value encodings, and secret checks. The two halves of the exchange are in `chap-initiator.ts` and
 * `chap-target.ts`.
 *
 * CHAP_A codes follow the IANA PPP authentication algorithm registry as libiscsi, open-iscsi and LIO read it:
 * 5 MD5, 6 SHA-1, 7 SHA-256, 8 SHA3-256. **Interop hazard:** tgt reads 7 as SHA-1 (`usr/iscsi/chap.c`), so an
 * initiator that offers 7 ahead of 5 to tgt gets a SHA-1 exchange under the SHA-256 code and the login fails.
 * That is why {@link DEFAULT_CHAP_ALGORITHMS} leaves 7 out: SHA3-256 gives the same strength to every peer that
 * knows 7 (LIO added 6, 7 and 8 together), tgt falls through to 5, and RFC 7143 requires 5 to be offered anyway.
 */
import { createHash, getHashes, timingSafeEqual } from 'node:crypto';
import { MAX_CHAP_BINARY_BYTES } from '../text/keys.js';
import { formatHex, parseBinary, parseList } from '../text/values.js';
import { LoginError } from './errors.js';

/** The CHAP_A algorithm codes. */
export const ChapAlgorithm = {
  MD5: 5,
  SHA1: 6,
  SHA256: 7,
  SHA3_256: 8,
} as const;

/** One of the {@link ChapAlgorithm} codes. */
export type ChapAlgorithmId = (typeof ChapAlgorithm)[keyof typeof ChapAlgorithm];

interface AlgorithmFacts {
  readonly name: string;
  readonly hash: string;
  readonly digestBytes: number;
}

const FACTS: Readonly<Record<ChapAlgorithmId, AlgorithmFacts>> = {
  5: { name: 'MD5', hash: 'md5', digestBytes: 16 },
  6: { name: 'SHA-1', hash: 'sha1', digestBytes: 20 },
  7: { name: 'SHA-256', hash: 'sha256', digestBytes: 32 },
  8: { name: 'SHA3-256', hash: 'sha3-256', digestBytes: 32 },
};

/** Every algorithm this stack implements, strongest first. */
export const ALL_CHAP_ALGORITHMS: readonly ChapAlgorithmId[] = [8, 7, 6, 5];

/**
 * What an initiator offers unless told otherwise, strongest first: SHA3-256, SHA-1, MD5. SHA-256 (7) is left out
 * because tgt reads 7 as SHA-1 (see the module comment); MD5 is last and always present (RFC 7143 §12.1.3).
 */
export const DEFAULT_CHAP_ALGORITHMS: readonly ChapAlgorithmId[] = [8, 6, 5];

/** Longest CHAP_C or CHAP_R accepted, in bytes (RFC 7143 §12.1.3). */
export const MAX_CHAP_CHALLENGE_BYTES = MAX_CHAP_BINARY_BYTES;

/** Shortest challenge accepted from a peer unless configured otherwise: an MD5 digest's worth (RFC 1994 §2.3). */
export const DEFAULT_MIN_PEER_CHALLENGE_BYTES = 16;

/**
 * Shortest secret accepted without `allowShortSecrets`: 96 bits. RFC 7143 §9.2.1 says an implementation SHOULD NOT
 * send a CHAP response unless the secret has at least 96 bits (or IPsec protects the connection).
 */
export const MIN_CHAP_SECRET_BYTES = 12;

/** A CHAP secret: bytes, or a string taken as its UTF-8 bytes. */
export type ChapSecret = string | Buffer;

/** A CHAP name and secret. */
export interface ChapCredentials {
  /** CHAP_N: the name this side authenticates as. */
  readonly user: string;
  /** The shared secret. Never logged, never put in a message. */
  readonly secret: ChapSecret;
}

/** True for a code this stack implements. */
export function isChapAlgorithmId(value: number): value is ChapAlgorithmId {
  return value === 5 || value === 6 || value === 7 || value === 8;
}

/** The algorithm's usual name, e.g. `SHA3-256`. */
export function chapAlgorithmName(algorithm: ChapAlgorithmId): string {
  return FACTS[algorithm].name;
}

/** Length of the algorithm's digest (and so of a CHAP_R), in bytes. */
export function chapDigestLength(algorithm: ChapAlgorithmId): number {
  return FACTS[algorithm].digestBytes;
}

/** The challenge length we send: at least the digest length, never under 16 bytes. */
export function defaultChallengeLength(algorithm: ChapAlgorithmId): number {
  return Math.max(DEFAULT_MIN_PEER_CHALLENGE_BYTES, chapDigestLength(algorithm));
}

let available: ReadonlySet<string> | undefined;

/** True when node:crypto can compute the algorithm here (a FIPS build may lack MD5). */
export function isChapAlgorithmAvailable(algorithm: ChapAlgorithmId): boolean {
  available ??= new Set(getHashes());
  return available.has(FACTS[algorithm].hash);
}

/** The secret's bytes. */
export function chapSecretBytes(secret: ChapSecret): Buffer {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
}

/** CHAP_R = H(identifier ‖ secret ‖ challenge) (RFC 1994 §4.1). */
export function chapResponse(
  algorithm: ChapAlgorithmId,
  identifier: number,
  secret: ChapSecret,
  challenge: Buffer,
): Buffer {
  return createHash(FACTS[algorithm].hash)
    .update(Buffer.of(identifier & 0xff))
    .update(chapSecretBytes(secret))
    .update(challenge)
    .digest();
}

/** Compares a received response with the expected one in constant time (for equal lengths). */
export function chapResponsesEqual(received: Buffer, expected: Buffer): boolean {
  return received.length === expected.length && timingSafeEqual(received, expected);
}

/** Decodes a CHAP_C or CHAP_R: hex (`0x…`) or base64 (`0b…`), 1..1024 bytes. Undefined when malformed. */
export function parseChapBinary(value: string): Buffer | undefined {
  const bytes = parseBinary(value, MAX_CHAP_CHALLENGE_BYTES);
  return bytes === undefined || bytes.length === 0 ? undefined : bytes;
}

/** Encodes a CHAP_C or CHAP_R: hex, the one form every peer reads (libiscsi accepts nothing else). */
export function formatChapBinary(bytes: Buffer): string {
  return formatHex(bytes);
}

/** Parses a CHAP_A list into numbers (unknown codes kept, so the caller can skip them). Undefined when malformed. */
export function parseChapAlgorithmList(value: string): number[] | undefined {
  const items = parseList(value);
  if (items === undefined) return undefined;
  const codes: number[] = [];
  for (const item of items) {
    if (!/^[0-9]{1,3}$/.test(item)) return undefined;
    codes.push(Number(item));
  }
  return codes;
}

/** Options of {@link checkChapSecret}. */
export interface ChapSecretCheck {
  /** Accept secrets shorter than 12 bytes (for interop tests); the result then says `short`. */
  readonly allowShortSecrets?: boolean;
  /** Which secret this is, for the message (e.g. "the initiator's CHAP secret"). */
  readonly what: string;
  /** Which side's configuration is being checked. */
  readonly role: 'initiator' | 'target';
}

/**
 * Checks a secret's length: empty is always refused; under 96 bits is refused unless `allowShortSecrets`, in
 * which case `short` is true so the login result can carry a warning. Throws ERR_LOGIN_BAD_CONFIG.
 */
export function checkChapSecret(secret: ChapSecret, check: ChapSecretCheck): { readonly short: boolean } {
  const length = chapSecretBytes(secret).length;
  const fail = (message: string): never => {
    throw new LoginError('ERR_LOGIN_BAD_CONFIG', message, { detectedBy: check.role });
  };
  if (length === 0) fail(`${check.what} is empty`);
  if (length < MIN_CHAP_SECRET_BYTES) {
    if (check.allowShortSecrets !== true) {
      fail(
        `${check.what} is ${length} bytes; RFC 7143 §9.2.1 asks for at least ${MIN_CHAP_SECRET_BYTES} ` +
          '(set allowShortSecrets to accept it for interop testing)',
      );
    }
    return { short: true };
  }
  return { short: false };
}

/** Throws ERR_LOGIN_BAD_CONFIG unless `list` is a non-empty list of distinct, available algorithms. */
export function checkChapAlgorithms(list: readonly number[], role: 'initiator' | 'target'): ChapAlgorithmId[] {
  const fail = (message: string): never => {
    throw new LoginError('ERR_LOGIN_BAD_CONFIG', message, { detectedBy: role });
  };
  if (list.length === 0) fail('the CHAP algorithm list is empty');
  const seen = new Set<number>();
  const out: ChapAlgorithmId[] = [];
  for (const code of list) {
    if (!isChapAlgorithmId(code)) fail(`CHAP algorithm ${code} is not implemented (5, 6, 7, 8 are)`);
    else if (seen.has(code)) fail(`CHAP algorithm ${code} is listed twice`);
    else if (!isChapAlgorithmAvailable(code)) fail(`node:crypto cannot compute ${chapAlgorithmName(code)} here`);
    else {
      seen.add(code);
      out.push(code);
    }
  }
  return out;
}
