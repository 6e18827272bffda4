import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_CHAP_ALGORITHMS,
  checkChapAlgorithms,
  checkChapSecret,
  chapDigestLength,
  chapResponse,
  DEFAULT_CHAP_ALGORITHMS,
  defaultChallengeLength,
  formatChapBinary,
  parseChapAlgorithmList,
  parseChapBinary,
  type ChapAlgorithmId,
} from '../../../protocol/login/chap.js';
import { ChapInitiatorExchange } from '../../../protocol/login/chap-initiator.js';
import { ChapTargetExchange, type ChapTargetOptions } from '../../../protocol/login/chap-target.js';
import { LoginError } from '../../../protocol/login/errors.js';
import { LoginStatus } from '../../../protocol/pdu/login.js';
import type { TextPair } from '../../../protocol/text/codec.js';
import { errorText, INITIATOR_SECRET, seededRandom, secretForms, TARGET_SECRET } from './harness.js';

const HASH_NAMES: Record<ChapAlgorithmId, string> = { 5: 'md5', 6: 'sha1', 7: 'sha256', 8: 'sha3-256' };

const asMap = (pairs: readonly TextPair[]): Map<string, string> => new Map(pairs.map((p) => [p.key, p.value]));

function thrown(run: () => unknown): LoginError {
  try {
    run();
  } catch (err) {
    if (err instanceof LoginError) return err;
    throw err;
  }
  throw new Error('expected a LoginError');
}

describe('CHAP response', () => {
  it('matches a hand-checked MD5 vector: MD5(0x01 ‖ "secretsecret" ‖ 00..0f)', () => {
    // Computed independently with Python's hashlib.md5(bytes([1]) + b"secretsecret" + bytes(range(16))).
    const challenge = Buffer.from(Array.from({ length: 16 }, (_, i) => i));
    expect(chapResponse(5, 1, 'secretsecret', challenge).toString('hex')).toBe('226dc576c33f04ff9c3a200ffe35f442');
  });

  it('is H(id ‖ secret ‖ challenge) for every algorithm, against node:crypto computed independently', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_CHAP_ALGORITHMS),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 1, maxLength: 1024 }),
        (algorithm, id, secret, challenge) => {
          const expected = createHash(HASH_NAMES[algorithm])
            .update(Buffer.concat([Buffer.of(id), Buffer.from(secret), Buffer.from(challenge)]))
            .digest();
          const got = chapResponse(algorithm, id, Buffer.from(secret), Buffer.from(challenge));
          expect(got.equals(expected)).toBe(true);
          expect(got.length).toBe(chapDigestLength(algorithm));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('uses digest lengths 16, 20, 32, 32 and challenges at least that long', () => {
    expect(ALL_CHAP_ALGORITHMS.map(chapDigestLength)).toEqual([32, 32, 20, 16]);
    for (const a of ALL_CHAP_ALGORITHMS) expect(defaultChallengeLength(a)).toBeGreaterThanOrEqual(chapDigestLength(a));
  });

  it('offers 8,6,5 by default: MD5 present (RFC 7143 §12.1.3), 7 left out for tgt', () => {
    expect(DEFAULT_CHAP_ALGORITHMS).toEqual([8, 6, 5]);
  });
});

describe('CHAP values', () => {
  it('reads hex and base64 and writes hex', () => {
    const bytes = Buffer.from('0102fe', 'hex');
    expect(parseChapBinary('0x0102FE')).toEqual(bytes);
    expect(parseChapBinary('0b' + bytes.toString('base64'))).toEqual(bytes);
    expect(formatChapBinary(bytes)).toBe('0x0102fe');
  });

  it('accepts 1024 bytes and refuses 1025, empty, and malformed values', () => {
    expect(parseChapBinary('0x' + 'ab'.repeat(1024))?.length).toBe(1024);
    expect(parseChapBinary('0x' + 'ab'.repeat(1025))).toBeUndefined();
    expect(parseChapBinary('0b' + Buffer.alloc(1025).toString('base64'))).toBeUndefined();
    expect(parseChapBinary('')).toBeUndefined();
    expect(parseChapBinary('0x')).toBeUndefined();
    expect(parseChapBinary('0xzz')).toBeUndefined();
    expect(parseChapBinary('1234')).toBeUndefined();
  });

  it('round-trips any challenge through hex and base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 1024 }), (raw) => {
        const bytes = Buffer.from(raw);
        expect(parseChapBinary(formatChapBinary(bytes))).toEqual(bytes);
        expect(parseChapBinary('0b' + bytes.toString('base64'))).toEqual(bytes);
      }),
      { numRuns: 100 },
    );
  });

  it('parses CHAP_A lists, keeping unknown codes and refusing non-numbers', () => {
    expect(parseChapAlgorithmList('8,7,6,5,200')).toEqual([8, 7, 6, 5, 200]);
    expect(parseChapAlgorithmList('5,,6')).toBeUndefined();
    expect(parseChapAlgorithmList('MD5')).toBeUndefined();
  });
});

describe('CHAP configuration checks', () => {
  it('refuses secrets under 96 bits unless allowed, and then flags them', () => {
    const role = 'initiator' as const;
    expect(thrown(() => checkChapSecret('elevenbytes', { what: 's', role })).code).toBe('ERR_LOGIN_BAD_CONFIG');
    expect(checkChapSecret('twelve bytes', { what: 's', role })).toEqual({ short: false });
    expect(checkChapSecret('elevenbytes', { what: 's', role, allowShortSecrets: true })).toEqual({ short: true });
    expect(thrown(() => checkChapSecret('', { what: 's', role, allowShortSecrets: true })).code).toBe(
      'ERR_LOGIN_BAD_CONFIG',
    );
    expect(errorText(thrown(() => checkChapSecret('tiny-pass', { what: 's', role })))).not.toContain('tiny-pass');
  });

  it('refuses empty, duplicated and unknown algorithm lists', () => {
    expect(thrown(() => checkChapAlgorithms([], 'target')).code).toBe('ERR_LOGIN_BAD_CONFIG');
    expect(thrown(() => checkChapAlgorithms([5, 5], 'target')).code).toBe('ERR_LOGIN_BAD_CONFIG');
    expect(thrown(() => checkChapAlgorithms([9], 'target')).code).toBe('ERR_LOGIN_BAD_CONFIG');
    expect(checkChapAlgorithms([7, 5], 'target')).toEqual([7, 5]);
  });
});

function targetExchange(overrides: Partial<ChapTargetOptions> = {}): ChapTargetExchange {
  return new ChapTargetExchange({
    algorithms: [5, 6, 7, 8],
    minPeerChallengeBytes: 16,
    requireMutual: false,
    allowShortSecrets: false,
    secretOf: (user) => (user === 'alice' ? INITIATOR_SECRET : undefined),
    targetCredentials: () => ({ user: 'disk', secret: TARGET_SECRET }),
    random: seededRandom('chap-target'),
    ...overrides,
  });
}

/** The target's challenge step, parsed. */
function challengeOf(
  target: ChapTargetExchange,
  offer = '5',
): { algorithm: ChapAlgorithmId; id: number; challenge: Buffer } {
  const pairs = asMap(target.challenge(offer));
  const challenge = parseChapBinary(pairs.get('CHAP_C') ?? '');
  if (!challenge) throw new Error('no challenge');
  return { algorithm: Number(pairs.get('CHAP_A')) as ChapAlgorithmId, id: Number(pairs.get('CHAP_I')), challenge };
}

describe('CHAP, target side', () => {
  it('takes the first algorithm of the initiator’s list that it accepts', () => {
    expect(challengeOf(targetExchange({ algorithms: [5, 7] }), '8,7,5').algorithm).toBe(7);
    expect(thrown(() => targetExchange({ algorithms: [5] }).challenge('8,7')).status).toBe(
      LoginStatus.AuthenticationFailure,
    );
  });

  it('accepts the right response and refuses a wrong one, an unknown user, and a missing CHAP_R', () => {
    const ok = targetExchange();
    const c = challengeOf(ok);
    const r = formatChapBinary(chapResponse(c.algorithm, c.id, INITIATOR_SECRET, c.challenge));
    expect(
      ok.verify(
        asMap([
          { key: 'CHAP_N', value: 'alice' },
          { key: 'CHAP_R', value: r },
        ]),
      ).user,
    ).toBe('alice');

    const wrong = targetExchange();
    const w = challengeOf(wrong);
    const bad = formatChapBinary(chapResponse(w.algorithm, w.id, 'a-wrong-secret-value', w.challenge));
    const error = thrown(() =>
      wrong.verify(
        asMap([
          { key: 'CHAP_N', value: 'alice' },
          { key: 'CHAP_R', value: bad },
        ]),
      ),
    );
    expect(error.status).toBe(LoginStatus.AuthenticationFailure);
    expect(errorText(error)).not.toContain(INITIATOR_SECRET);

    const unknown = targetExchange();
    const u = challengeOf(unknown);
    const ur = formatChapBinary(chapResponse(u.algorithm, u.id, INITIATOR_SECRET, u.challenge));
    expect(
      thrown(() =>
        unknown.verify(
          asMap([
            { key: 'CHAP_N', value: 'mallory' },
            { key: 'CHAP_R', value: ur },
          ]),
        ),
      ).status,
    ).toBe(LoginStatus.AuthenticationFailure);

    const missing = targetExchange();
    challengeOf(missing);
    expect(thrown(() => missing.verify(asMap([{ key: 'CHAP_N', value: 'alice' }]))).status).toBe(
      LoginStatus.AuthenticationFailure,
    );
  });

  it('refuses an initiator that reflects the target’s challenge back in mutual CHAP', () => {
    const target = targetExchange();
    const c = challengeOf(target);
    const r = formatChapBinary(chapResponse(c.algorithm, c.id, INITIATOR_SECRET, c.challenge));
    const error = thrown(() =>
      target.verify(
        asMap([
          { key: 'CHAP_N', value: 'alice' },
          { key: 'CHAP_R', value: r },
          { key: 'CHAP_I', value: String(c.id) },
          { key: 'CHAP_C', value: formatChapBinary(c.challenge) },
        ]),
      ),
    );
    expect(error.status).toBe(LoginStatus.AuthenticationFailure);
    expect(error.message).toMatch(/reflected/);
  });

  it('refuses a response computed with the target’s own secret (one secret both ways, RFC 7143 §9.2.1)', () => {
    const shared = 'one-secret-for-both-ways';
    const target = targetExchange({
      secretOf: () => shared,
      targetCredentials: () => ({ user: 'disk', secret: shared }),
    });
    const c = challengeOf(target);
    const r = formatChapBinary(chapResponse(c.algorithm, c.id, shared, c.challenge));
    const error = thrown(() =>
      target.verify(
        asMap([
          { key: 'CHAP_N', value: 'alice' },
          { key: 'CHAP_R', value: r },
        ]),
      ),
    );
    expect(error.status).toBe(LoginStatus.AuthenticationFailure);
    expect(errorText(error)).not.toContain(shared);
  });

  it('answers a mutual challenge with its own secret, and refuses mutual CHAP without credentials', () => {
    const target = targetExchange();
    const c = challengeOf(target);
    const r = formatChapBinary(chapResponse(c.algorithm, c.id, INITIATOR_SECRET, c.challenge));
    const mine = Buffer.alloc(16, 7);
    const outcome = target.verify(
      asMap([
        { key: 'CHAP_N', value: 'alice' },
        { key: 'CHAP_R', value: r },
        { key: 'CHAP_I', value: '9' },
        { key: 'CHAP_C', value: formatChapBinary(mine) },
      ]),
    );
    expect(outcome.mutual).toBe(true);
    expect(asMap(outcome.reply).get('CHAP_R')).toBe(
      formatChapBinary(chapResponse(c.algorithm, 9, TARGET_SECRET, mine)),
    );

    const none = targetExchange({ targetCredentials: () => undefined });
    const n = challengeOf(none);
    const nr = formatChapBinary(chapResponse(n.algorithm, n.id, INITIATOR_SECRET, n.challenge));
    expect(
      thrown(() =>
        none.verify(
          asMap([
            { key: 'CHAP_N', value: 'alice' },
            { key: 'CHAP_R', value: nr },
            { key: 'CHAP_I', value: '9' },
            { key: 'CHAP_C', value: formatChapBinary(mine) },
          ]),
        ),
      ).status,
    ).toBe(LoginStatus.AuthenticationFailure);
  });

  it('refuses a one-way login when mutual CHAP is required, and short initiator challenges', () => {
    const target = targetExchange({ requireMutual: true });
    const c = challengeOf(target);
    const r = formatChapBinary(chapResponse(c.algorithm, c.id, INITIATOR_SECRET, c.challenge));
    expect(
      thrown(() =>
        target.verify(
          asMap([
            { key: 'CHAP_N', value: 'alice' },
            { key: 'CHAP_R', value: r },
          ]),
        ),
      ).message,
    ).toMatch(/mutual CHAP is required/);

    const short = targetExchange();
    const s = challengeOf(short);
    const sr = formatChapBinary(chapResponse(s.algorithm, s.id, INITIATOR_SECRET, s.challenge));
    expect(
      thrown(() =>
        short.verify(
          asMap([
            { key: 'CHAP_N', value: 'alice' },
            { key: 'CHAP_R', value: sr },
            { key: 'CHAP_I', value: '1' },
            { key: 'CHAP_C', value: '0x0102' },
          ]),
        ),
      ).message,
    ).toMatch(/fewer than 16/);
  });
});

function initiatorExchange(mutual = false): ChapInitiatorExchange {
  return new ChapInitiatorExchange({
    credentials: { user: 'alice', secret: INITIATOR_SECRET },
    mutual: mutual ? { user: 'disk', secret: TARGET_SECRET } : undefined,
    algorithms: [8, 6, 5],
    minPeerChallengeBytes: 16,
    random: seededRandom('chap-initiator'),
  });
}

describe('CHAP, initiator side', () => {
  const challenge = Buffer.alloc(16, 0x5a);
  const step2 = (a = '5', c = formatChapBinary(challenge)): Map<string, string> =>
    asMap([
      { key: 'CHAP_A', value: a },
      { key: 'CHAP_I', value: '3' },
      { key: 'CHAP_C', value: c },
    ]);

  it('answers the challenge with H(id ‖ secret ‖ challenge), and never puts the secret on the wire', () => {
    const initiator = initiatorExchange();
    expect(initiator.offer()).toEqual([{ key: 'CHAP_A', value: '8,6,5' }]);
    const reply = asMap(initiator.respond(step2()));
    expect(reply.get('CHAP_N')).toBe('alice');
    expect(reply.get('CHAP_R')).toBe(formatChapBinary(chapResponse(5, 3, INITIATOR_SECRET, challenge)));
    const wire = [...reply.values()].join('\n');
    for (const form of secretForms(INITIATOR_SECRET)) expect(wire).not.toContain(form);
  });

  it('accepts a 1024-byte base64 challenge and refuses a 1025-byte one', () => {
    const big = Buffer.alloc(1024, 0x33);
    const ok = initiatorExchange();
    ok.offer();
    const reply = asMap(ok.respond(step2('5', '0b' + big.toString('base64'))));
    expect(reply.get('CHAP_R')).toBe(formatChapBinary(chapResponse(5, 3, INITIATOR_SECRET, big)));
    const tooBig = initiatorExchange();
    tooBig.offer();
    expect(thrown(() => tooBig.respond(step2('5', '0x' + '33'.repeat(1025)))).code).toBe('ERR_LOGIN_PROTOCOL');
  });

  it('refuses an algorithm it did not offer, CHAP_A=Reject, and short challenges', () => {
    const a = initiatorExchange();
    a.offer();
    expect(thrown(() => a.respond(step2('7'))).code).toBe('ERR_LOGIN_PROTOCOL');
    const b = initiatorExchange();
    b.offer();
    expect(thrown(() => b.respond(step2('Reject'))).code).toBe('ERR_LOGIN_AUTHENTICATION_FAILED');
    const c = initiatorExchange();
    c.offer();
    expect(thrown(() => c.respond(step2('5', '0x01020304'))).code).toBe('ERR_LOGIN_AUTHENTICATION_FAILED');
  });

  it('sends a mutual challenge unlike the target’s, and checks the target’s answer', () => {
    const initiator = initiatorExchange(true);
    initiator.offer();
    const reply = asMap(initiator.respond(step2()));
    const ours = parseChapBinary(reply.get('CHAP_C') ?? '');
    const id = Number(reply.get('CHAP_I'));
    expect(ours?.equals(challenge)).toBe(false);
    if (!ours) throw new Error('no challenge');
    const good = formatChapBinary(chapResponse(5, id, TARGET_SECRET, ours));
    initiator.verifyTarget(
      asMap([
        { key: 'CHAP_N', value: 'disk' },
        { key: 'CHAP_R', value: good },
      ]),
    );
    expect(initiator.done).toBe(true);
  });

  it('refuses a target answering with the initiator’s own secret, a wrong secret, or a wrong name', () => {
    const cases: [string, string][] = [
      ['disk', INITIATOR_SECRET],
      ['disk', 'the-wrong-target-secret'],
      ['someone-else', TARGET_SECRET],
    ];
    for (const [name, secret] of cases) {
      const initiator = initiatorExchange(true);
      initiator.offer();
      const reply = asMap(initiator.respond(step2()));
      const ours = parseChapBinary(reply.get('CHAP_C') ?? '') ?? Buffer.alloc(0);
      const r = formatChapBinary(chapResponse(5, Number(reply.get('CHAP_I')), secret, ours));
      const error = thrown(() => {
        initiator.verifyTarget(
          asMap([
            { key: 'CHAP_N', value: name },
            { key: 'CHAP_R', value: r },
          ]),
        );
      });
      expect(error.code).toBe('ERR_LOGIN_TARGET_AUTHENTICATION_FAILED');
      expect(errorText(error)).not.toContain(secret);
    }
  });

  it('draws a different challenge even from a random source that repeats the target’s', () => {
    const initiator = new ChapInitiatorExchange({
      credentials: { user: 'alice', secret: INITIATOR_SECRET },
      mutual: { user: 'disk', secret: TARGET_SECRET },
      algorithms: [5],
      minPeerChallengeBytes: 16,
      random: { bytes: (n) => Buffer.alloc(n, 0x5a) },
    });
    initiator.offer();
    const reply = asMap(initiator.respond(step2()));
    expect(parseChapBinary(reply.get('CHAP_C') ?? '')?.equals(challenge)).toBe(false);
  });
});
