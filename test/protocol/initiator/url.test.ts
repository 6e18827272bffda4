import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InitiatorError } from '../../../protocol/initiator/errors.js';
import { urlLoginOptions } from '../../../protocol/initiator/url-options.js';
import { formatIscsiUrl, parseIscsiUrl, redactIscsiUrl, type IscsiUrl } from '../../../protocol/initiator/url.js';

function badUrl(text: string, form?: 'target' | 'portal' | 'any'): InitiatorError {
  try {
    parseIscsiUrl(text, form === undefined ? {} : { form });
  } catch (err) {
    expect(err).toBeInstanceOf(InitiatorError);
    expect((err as InitiatorError).code).toBe('ERR_INITIATOR_BAD_URL');
    return err as InitiatorError;
  }
  throw new Error(`${text} was accepted`);
}

describe('parseIscsiUrl', () => {
  it('reads the libiscsi form with credentials, port, target, LUN and query', () => {
    expect(
      parseIscsiUrl(
        'iscsi://alice%s3cr3t@192.0.2.7:3261/iqn.2024-01.org.example:disk1/2?header_digest=crc32c-none&target_user=tgt&target_password=p%40ss&auth=sha3-256',
      ),
    ).toEqual({
      transport: 'tcp',
      host: '192.0.2.7',
      port: 3261,
      targetName: 'iqn.2024-01.org.example:disk1',
      lun: 2,
      user: 'alice',
      password: 's3cr3t',
      headerDigest: ['CRC32C', 'None'],
      targetUser: 'tgt',
      targetPassword: 'p%40ss',
      chapAlgorithm: 8,
    });
  });

  it('reads iser://, IPv6 hosts, the default port, and portal URLs', () => {
    expect(parseIscsiUrl('iser://[fe80::1]/iqn.2024-01.test:t/0')).toEqual({
      transport: 'iser',
      host: 'fe80::1',
      port: 3260,
      targetName: 'iqn.2024-01.test:t',
      lun: 0,
    });
    expect(parseIscsiUrl('iscsi://storage.example:3262', { form: 'portal' })).toEqual({
      transport: 'tcp',
      host: 'storage.example',
      port: 3262,
    });
    expect(parseIscsiUrl('ISCSI://h/iqn.2024-01.test:t/16383').lun).toBe(16383);
  });

  it('splits user and password as libiscsi does: the first % and the last @', () => {
    const url = parseIscsiUrl('iscsi://bob%pa%ss@w/rd@host/iqn.2024-01.test:t/1');
    expect(url.user).toBe('bob');
    expect(url.password).toBe('pa%ss@w/rd');
    expect(url.host).toBe('host');
  });

  it.each([
    ['http://host/iqn.2024-01.test:t/0', 'scheme'],
    ['iscsi://host', 'needs /target-name/lun'],
    ['iscsi:///iqn.2024-01.test:t/0', 'host is empty'],
    ['iscsi://host:0/iqn.2024-01.test:t/0', 'port is 0'],
    ['iscsi://host:65536/iqn.2024-01.test:t/0', 'above 65535'],
    ['iscsi://host:12ab/iqn.2024-01.test:t/0', 'port must be a decimal'],
    ['iscsi://host/iqn.2024-01.test:t/16384', 'above 16383'],
    ['iscsi://host/iqn.2024-01.test:t/-1', 'LUN must be a decimal'],
    ['iscsi://host/iqn.2024-01.test:t', 'path must be'],
    ['iscsi://host/iqn.2024-01.test:t/0/extra', 'path must be'],
    ['iscsi://[fe80::1/iqn.2024-01.test:t/0', 'closing bracket'],
    ['iscsi://[zz]/iqn.2024-01.test:t/0', 'not an IPv6'],
    ['iscsi://ho st/iqn.2024-01.test:t/0', 'whitespace'],
    ['iscsi://host/iqn\u0000x/0', 'control'],
    ['iscsi://host/iqn.2024-01.test:t/0#frag', 'fragments'],
    ['iscsi://host/iqn.2024-01.test:t/0?', 'query is empty'],
    ['iscsi://host/iqn.2024-01.test:t/0?evil=1', 'unknown query key'],
    ['iscsi://host/iqn.2024-01.test:t/0?header_digest=md5', 'header_digest must be'],
    ['iscsi://host/iqn.2024-01.test:t/0?auth=sha1', 'needs a user name'],
    ['iscsi://u%p@host/iqn.2024-01.test:t/0?auth=rot13', 'auth must be'],
    ['iscsi://u%p@host/iqn.2024-01.test:t/0?target_user=x', 'go together'],
    ['iscsi://host/iqn.2024-01.test:t/0?target_user=x&target_password=y', 'needs a user name too'],
    ['iscsi://u%p@host/iqn.2024-01.test:t/0?auth=md5&auth=md5', 'appears twice'],
    ['iscsi://%p@host/iqn.2024-01.test:t/0', 'user name is empty'],
    ['iscsi://host/iqn.2024-01.test:t/0?target_user', 'key=value'],
  ])('refuses %s (%s)', (text, why) => {
    expect(badUrl(text).message).toContain(why);
  });

  it('refuses an overlong URL and a target URL where a portal is wanted', () => {
    badUrl(`iscsi://host/iqn.2024-01.test:${'x'.repeat(5000)}/0`);
    badUrl('iscsi://host/iqn.2024-01.test:t/0', 'portal');
  });

  it('never quotes a password in an error', () => {
    const error = badUrl('iscsi://alice%TopSecret@host:99999/iqn.2024-01.test:t/0');
    expect(error.message).not.toContain('TopSecret');
    const query = badUrl('iscsi://a%b@host/iqn.2024-01.test:t/0?target_user=t&target_password=Hidden&oops=1');
    expect(query.message).not.toContain('Hidden');
  });

  it('only ever throws its typed error on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 120 }),
          fc.string({ maxLength: 80 }).map((s) => `iscsi://${s}`),
        ),
        (text) => {
          try {
            parseIscsiUrl(text, { form: 'any' });
          } catch (err) {
            expect(err).toBeInstanceOf(InitiatorError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

const arbName = fc.stringMatching(/^[a-z0-9](?:[a-z0-9.-]{0,18}[a-z0-9])?$/);
const arbUrl: fc.Arbitrary<IscsiUrl> = fc
  .record(
    {
      transport: fc.constantFrom('tcp' as const, 'iser' as const),
      host: fc.oneof(arbName, fc.constantFrom('fe80::1', '2001:db8::42', '192.0.2.1')),
      port: fc.integer({ min: 1, max: 65535 }),
      target: fc.option(
        fc.record({ name: arbName.map((n) => `iqn.2024-01.${n}:disk`), lun: fc.integer({ min: 0, max: 16383 }) }),
        {
          nil: undefined,
        },
      ),
      chap: fc.option(
        fc.record({
          user: fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/),
          password: fc.stringMatching(/^[A-Za-z0-9%@/!_.-]{1,24}$/),
          mutual: fc.option(
            fc.record({
              user: fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/),
              password: fc.stringMatching(/^[A-Za-z0-9%@/!_.=-]{1,24}$/),
            }),
            { nil: undefined },
          ),
          algorithm: fc.option(fc.constantFrom(5 as const, 6 as const, 7 as const, 8 as const), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      headerDigest: fc.option(
        fc.constantFrom(
          ['None'] as const,
          ['CRC32C'] as const,
          ['CRC32C', 'None'] as const,
          ['None', 'CRC32C'] as const,
        ),
        {
          nil: undefined,
        },
      ),
      dataDigest: fc.option(fc.constantFrom(['None'] as const, ['CRC32C', 'None'] as const), { nil: undefined }),
    },
    { requiredKeys: ['transport', 'host', 'port'] },
  )
  .map((r) => ({
    transport: r.transport,
    host: r.host,
    port: r.port,
    ...(r.target === undefined ? {} : { targetName: r.target.name, lun: r.target.lun }),
    ...(r.chap === undefined ? {} : { user: r.chap.user, password: r.chap.password }),
    ...(r.chap?.mutual === undefined ? {} : { targetUser: r.chap.mutual.user, targetPassword: r.chap.mutual.password }),
    ...(r.chap?.algorithm === undefined ? {} : { chapAlgorithm: r.chap.algorithm }),
    ...(r.headerDigest === undefined ? {} : { headerDigest: [...r.headerDigest] }),
    ...(r.dataDigest === undefined ? {} : { dataDigest: [...r.dataDigest] }),
  }));

describe('formatIscsiUrl', () => {
  it('round-trips every URL it can write', () => {
    fc.assert(
      fc.property(arbUrl, (url) => {
        const text = formatIscsiUrl(url, { redact: false });
        expect(parseIscsiUrl(text, { form: 'any' })).toEqual(url);
        expect(formatIscsiUrl(parseIscsiUrl(text, { form: 'any' }), { redact: false })).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('redacts passwords by default, and redactIscsiUrl hides them in any URL', () => {
    fc.assert(
      fc.property(arbUrl, (url) => {
        const redacted = formatIscsiUrl(url);
        const text = formatIscsiUrl(url, { redact: false });
        for (const secret of [url.password, url.targetPassword]) {
          if (secret === undefined) continue;
          expect(redacted).not.toContain(`%${secret}@`);
          expect(redactIscsiUrl(text)).not.toContain(`%${secret}@`);
          expect(redactIscsiUrl(text)).not.toContain(`password=${secret}`);
        }
      }),
      { numRuns: 200 },
    );
    expect(redactIscsiUrl('iscsi://u%hunter2@h/iqn.2024-01.t:x/0?target_password=swordfish')).toBe(
      'iscsi://u%***@h/iqn.2024-01.t:x/0?target_password=***',
    );
  });

  it('refuses parts the syntax cannot carry', () => {
    expect(() =>
      formatIscsiUrl({ transport: 'tcp', host: 'h', port: 3260, user: 'a@b', password: 'x' }, { redact: false }),
    ).toThrow(InitiatorError);
    expect(() => formatIscsiUrl({ transport: 'tcp', host: 'h', port: 3260, password: 'x' })).toThrow(InitiatorError);
  });
});

describe('urlLoginOptions', () => {
  it('turns a URL into portal, target, LUN, CHAP and digest preferences', () => {
    expect(
      urlLoginOptions(
        'iser://u%averylongsecret@10.0.0.1/iqn.2024-01.test:t/3?target_user=t&target_password=anotherlongone&auth=sha1&data_digest=crc32c',
      ),
    ).toEqual({
      portal: { host: '10.0.0.1', port: 3260 },
      transport: 'iser',
      targetName: 'iqn.2024-01.test:t',
      lun: 3,
      auth: {
        method: 'CHAP',
        credentials: { user: 'u', secret: 'averylongsecret' },
        mutual: { user: 't', secret: 'anotherlongone' },
        algorithms: [6, 5],
      },
      negotiation: { dataDigest: ['CRC32C'] },
    });
  });

  it('needs a password with a user name', () => {
    expect(() => urlLoginOptions('iscsi://u@h/iqn.2024-01.test:t/0')).toThrow(/needs a password/);
  });
});
