/**
 * Where the login machines get their randomness (CHAP challenges and identifiers, a target's first StatSN).
 * Injected, so the simulator can replay a login byte for byte; production uses the system CSPRNG.
 */
import { randomBytes } from 'node:crypto';
import { LoginError } from './errors.js';

/** A source of random bytes. */
export interface RandomSource {
  /** `n` fresh random bytes. */
  bytes(n: number): Buffer;
}

/** The system's cryptographically secure generator (`crypto.randomBytes`). */
export const cryptoRandom: RandomSource = {
  bytes: (n) => randomBytes(n),
};

/** Exactly `n` bytes from `random`; a source that returns fewer is a configuration error, not a crash later. */
export function randomBytesFrom(random: RandomSource, n: number, role: 'initiator' | 'target'): Buffer {
  const bytes = random.bytes(n);
  if (bytes.length < n) {
    throw new LoginError('ERR_LOGIN_BAD_CONFIG', `the random source returned ${bytes.length} of ${n} bytes`, {
      detectedBy: role,
    });
  }
  return bytes.subarray(0, n);
}

/** A random unsigned 32-bit number. */
export function randomU32(random: RandomSource, role: 'initiator' | 'target'): number {
  return randomBytesFrom(random, 4, role).readUInt32BE(0);
}

/** A random byte (0..255). */
export function randomU8(random: RandomSource, role: 'initiator' | 'target'): number {
  return randomBytesFrom(random, 1, role).readUInt8(0);
}
