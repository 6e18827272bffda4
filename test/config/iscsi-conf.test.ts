import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigPrintError } from '../../config/errors.js';
import { findTarget, type IscsiConfTarget, parseIscsiConf } from '../../config/iscsi-conf.js';
import { printIscsiConf } from '../../config/iscsi-conf-print.js';
import { formatTargetAddress, parseDscp, parseTargetAddress } from '../../config/iscsi-conf-values.js';

/** Parses and returns the error, which must be a ConfigError. */
function errorOf(text: string): ConfigError {
  try {
    parseIscsiConf(text, 'test.conf');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseIscsiConf', () => {
  it('reads the man page examples, keys in any case, with defaults applied', () => {
    const conf = parseIscsiConf(`
myiscsi { # nickname
   targetaddress = iscsi1
   targetname    = iqn.1900.com.com:sn.123456
}

myiscsi6 { # nickname
   targetaddress = [2001:db8::de:ef]:3260
   targetname    = iqn.1900.com.com:sn.123456
}

chaptest {
   targetaddress = 10.0.0.1;
   targetname    = iqn.1900.com.com:sn.123456;
   initiatorname = iqn.2005-01.il.ac.huji.cs:nobody;
   authmethod    = CHAP;
   chapiname     = iqn.2005-01.il.ac.huji.cs:nobody;
   chapsecret    = "secretsecret";
}
`);
    expect(conf.targets).toHaveLength(3);
    expect(conf.targets[0]).toEqual({
      nickname: 'myiscsi',
      targetName: 'iqn.1900.com.com:sn.123456',
      targetAddress: 'iscsi1',
      portal: { host: 'iscsi1', port: 3260 },
      authMethod: 'None',
      headerDigest: 'None',
      dataDigest: 'None',
      sessionType: 'Normal',
      protocol: 'iscsi',
      enable: true,
    });
    expect(conf.targets[1]?.portal).toEqual({ host: '2001:db8::de:ef', port: 3260 });
    expect(conf.targets[2]).toMatchObject({
      authMethod: 'CHAP',
      chapIName: 'iqn.2005-01.il.ac.huji.cs:nobody',
      chapSecret: 'secretsecret',
      initiatorName: 'iqn.2005-01.il.ac.huji.cs:nobody',
    });
    expect(findTarget(conf, 'CHAPTEST')?.nickname).toBe('chaptest');
  });

  it('reads every key, and warns about obsolete ones', () => {
    const conf = parseIscsiConf(
      [
        'disc {',
        '  SessionType = discovery',
        '  TargetAddress = 192.0.2.1:3261',
        '  InitiatorAddress = 192.0.2.9',
        '  InitiatorAlias = "my host"',
        '  chapIName = me',
        '  chapSecret = "s3cret with spaces"',
        '  tgtChapName = them',
        '  tgtChapSecret = other-secret',
        '  HeaderDigest = crc32c',
        '  DataDigest = CRC32C',
        '  Protocol = iSER',
        '  Offload = cxgbei',
        '  Enable = off',
        '  dscp = af41',
        '  pcp = 5',
        '  PingTimeout = 10',
        '  LoginTimeout = 30',
        '  Port = 3260',
        '  MaxConnections = 4',
        '}',
      ].join('\n'),
    );
    expect(conf.targets[0]).toEqual({
      nickname: 'disc',
      targetAddress: '192.0.2.1:3261',
      portal: { host: '192.0.2.1', port: 3261 },
      initiatorAddress: '192.0.2.9',
      initiatorAlias: 'my host',
      authMethod: 'CHAP',
      chapIName: 'me',
      chapSecret: 's3cret with spaces',
      tgtChapName: 'them',
      tgtChapSecret: 'other-secret',
      headerDigest: 'CRC32C',
      dataDigest: 'CRC32C',
      sessionType: 'Discovery',
      protocol: 'iser',
      offload: 'cxgbei',
      enable: false,
      dscp: 34,
      pcp: 5,
      pingTimeout: 10,
      loginTimeout: 30,
    });
    expect(conf.warnings.map((w) => [w.line, w.column])).toEqual([
      [19, 3],
      [20, 3],
    ]);
    expect(conf.warnings[0]?.message).toContain('TargetAddress');
  });

  it('points at an unknown key, with a suggestion', () => {
    const err = errorOf('t {\n  TargetAddress = a\n  TargetName = iqn.2000-01.com.x:y\n  TargetAdress = b\n}\n');
    expect(err.code).toBe('ERR_CONFIG_UNKNOWN_KEY');
    expect(err.message).toBe('test.conf:4:3: unknown key "TargetAdress" (did you mean TargetAddress?)');
  });

  it('points at the unclosed brace when the file ends, and at the next block when one starts inside', () => {
    const atEnd = errorOf(
      'ok {\n TargetAddress = a\n TargetName = iqn.2000-01.com.x:y\n}\nbroken {\n TargetAddress = a\n',
    );
    expect(atEnd.code).toBe('ERR_CONFIG_SYNTAX');
    expect([atEnd.line, atEnd.column]).toEqual([5, 8]);
    expect(atEnd.message).toContain("missing '}'");
    const nested = errorOf('first {\n TargetAddress = a\nsecond {\n}\n');
    expect([nested.line, nested.column]).toEqual([3, 1]);
    expect(nested.message).toContain('missing \'}\' to close "first"');
  });

  it('reports duplicate nicknames (case-insensitively) and duplicated keys', () => {
    const block = (name: string) => `${name} {\n TargetAddress = a\n TargetName = iqn.2000-01.com.x:y\n}\n`;
    const err = errorOf(block('one') + block('ONE'));
    expect(err.code).toBe('ERR_CONFIG_DUPLICATE');
    expect(err.message).toBe('test.conf:5:1: duplicate nickname "ONE" (first defined at line 1)');
    const dupKey = errorOf('t {\n TargetAddress = a\n targetaddress = b\n TargetName = iqn.2000-01.com.x:y\n}');
    expect(dupKey.message).toBe('test.conf:3:2: duplicated TargetAddress (first set at line 2)');
  });

  it('points at bad values with what is accepted', () => {
    const cases: [string, string, number, string][] = [
      ['HeaderDigest = MD5', 'HeaderDigest must be "None" or "CRC32C"', 21, 'MD5'],
      ['AuthMethod = kerberos', 'AuthMethod must be "None" or "CHAP"', 19, 'kerberos'],
      ['Enable = maybe', 'must be "on" or "off"', 15, 'maybe'],
      ['dscp = 64', 'is not a DSCP', 13, '64'],
      ['pcp = 8', 'pcp must be an integer from 0 to 7', 12, '8'],
      ['PingTimeout = 0', 'PingTimeout must be an integer from 1', 20, '0'],
      ['Protocol = fc', 'Protocol must be "iscsi" or "iser"', 17, 'fc'],
      ['SessionType = sendtargets', 'SessionType must be', 20, 'sendtargets'],
    ];
    for (const [line, message, column] of cases) {
      const err = errorOf(`t {\n TargetAddress = a\n TargetName = iqn.2000-01.com.x:y\n     ${line}\n}`);
      expect(err.code).toBe('ERR_CONFIG_VALUE');
      expect(err.line).toBe(4);
      expect(err.column).toBe(column);
      expect(err.message).toContain(message);
    }
  });

  it('checks TargetAddress forms', () => {
    expect(errorOf('t {\n TargetAddress = 2001:db8::1\n TargetName = iqn.2000-01.com.x:y\n}').message).toContain(
      'must be in brackets',
    );
    expect(errorOf('t {\n TargetAddress = host:99999\n TargetName = iqn.2000-01.com.x:y\n}').message).toContain(
      'port must be a number from 1 to 65535',
    );
    expect(errorOf('t {\n TargetAddress = [host]:1\n TargetName = iqn.2000-01.com.x:y\n}').message).toContain(
      'IPv6 address',
    );
  });

  it('reports missing TargetAddress, TargetName, CHAP credentials, and TargetName on discovery, all at once', () => {
    const err = errorOf(
      [
        'noaddr {',
        ' TargetName = iqn.2000-01.com.x:y',
        '}',
        'noname {',
        ' TargetAddress = a',
        '}',
        'chap {',
        ' TargetAddress = a',
        ' TargetName = iqn.2000-01.com.x:y',
        ' AuthMethod = CHAP',
        ' chapIName = me',
        '}',
        'disc {',
        ' TargetAddress = a',
        ' SessionType = Discovery',
        ' TargetName = iqn.2000-01.com.x:y',
        '}',
        'mutual {',
        ' TargetAddress = a',
        ' TargetName = iqn.2000-01.com.x:y',
        ' chapIName = me',
        ' chapSecret = s',
        ' tgtChapName = them',
        '}',
      ].join('\n'),
    );
    expect(err.code).toBe('ERR_CONFIG_MISSING');
    expect(err.message.split('\n')).toEqual([
      'test.conf:1:1: missing TargetAddress for target "noaddr"',
      'test.conf:4:1: missing TargetName for target "noname"',
      'test.conf:10:2: missing chapSecret for target "chap"',
      'test.conf:16:2: cannot specify TargetName for discovery session "disc"',
      'test.conf:23:2: missing tgtChapSecret for target "mutual"',
    ]);
  });

  it('reports syntax errors at the offending token', () => {
    expect(errorOf('t {\n TargetAddress a\n}').message).toBe(
      `test.conf:2:16: expected '=' after "TargetAddress", found "a"`,
    );
    expect(errorOf('t {\n TargetAddress = \n}').message).toBe(
      `test.conf:3:1: expected a value for "TargetAddress", found '}'`,
    );
    expect(errorOf('t {\n chapSecret = abc!def\n}').message).toContain('test.conf:2:18: unexpected character');
    expect(errorOf('t {\n chapSecret = "abc\n}').message).toContain('test.conf:2:15: unterminated quoted string');
    expect(errorOf('{ }').message).toBe(`test.conf:1:1: expected a nickname to start a target block, found '{'`);
    expect(errorOf('}').code).toBe('ERR_CONFIG_SYNTAX');
    expect(errorOf('x'.repeat(2 * 1024 * 1024)).code).toBe('ERR_CONFIG_TOO_LARGE');
  });

  it('accepts an empty file and comments only', () => {
    expect(parseIscsiConf('# nothing here\n\n').targets).toEqual([]);
  });
});

describe('iscsi.conf values', () => {
  it('DSCP names and numbers', () => {
    expect(parseDscp('cs5')).toEqual({ ok: true, value: 40 });
    expect(parseDscp('EF')).toEqual({ ok: true, value: 46 });
    expect(parseDscp('be')).toEqual({ ok: true, value: 0 });
    expect(parseDscp('af13')).toEqual({ ok: true, value: 14 });
    expect(parseDscp('0x2e')).toEqual({ ok: true, value: 46 });
    expect(parseDscp('010').ok).toBe(false);
    expect(parseDscp('af44').ok).toBe(false);
  });

  it('target addresses round-trip through formatTargetAddress', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.domain(),
          fc.ipV4(),
          fc.ipV6().filter((a) => !a.includes('.')),
        ),
        fc.integer({ min: 1, max: 65535 }),
        (host, port) => {
          expect(parseTargetAddress(formatTargetAddress({ host, port }))).toEqual({ ok: true, value: { host, port } });
        },
      ),
      { numRuns: 200 },
    );
  });
});

const valueText = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
  // eslint-disable-next-line no-control-regex
  .filter((s) => !/["\u0000-\u001f\u007f]/u.test(s));
const iqn = fc
  .tuple(fc.integer({ min: 1990, max: 2030 }), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/))
  .map(([year, name]) => `iqn.${year}-01.org.example:${name}`);
const portal = fc.record({
  host: fc.oneof(
    fc.domain(),
    fc.ipV4(),
    fc.ipV6().filter((a) => !a.includes('.')),
  ),
  port: fc.integer({ min: 1, max: 65535 }),
});

const target: fc.Arbitrary<IscsiConfTarget> = fc
  .record(
    {
      nickname: fc.oneof(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,12}$/), valueText),
      discovery: fc.boolean(),
      targetName: iqn,
      portal,
      writePort: fc.boolean(),
      initiatorName: iqn,
      initiatorAddress: fc.ipV4(),
      initiatorAlias: valueText,
      auth: fc.constantFrom('None', 'CHAP', 'implicit'),
      chapIName: valueText,
      chapSecret: valueText,
      mutual: fc.boolean(),
      tgtChapName: valueText,
      tgtChapSecret: valueText,
      headerDigest: fc.constantFrom('None' as const, 'CRC32C' as const),
      dataDigest: fc.constantFrom('None' as const, 'CRC32C' as const),
      protocol: fc.constantFrom('iscsi' as const, 'iser' as const),
      offload: valueText,
      enable: fc.boolean(),
      dscp: fc.integer({ min: 0, max: 63 }),
      pcp: fc.integer({ min: 0, max: 7 }),
      pingTimeout: fc.integer({ min: 1, max: 3600 }),
      loginTimeout: fc.integer({ min: 1, max: 3600 }),
    },
    {
      requiredKeys: [
        'nickname',
        'discovery',
        'targetName',
        'portal',
        'writePort',
        'auth',
        'chapIName',
        'chapSecret',
        'mutual',
      ],
    },
  )
  .map((r) => {
    const withPort = r.writePort || r.portal.port !== 3260;
    const { host } = r.portal;
    const bracketed = host.includes(':') ? `[${host}]` : host;
    const t: Record<string, unknown> = {
      nickname: r.nickname,
      targetAddress: withPort ? `${bracketed}:${r.portal.port}` : bracketed,
      portal: r.portal,
      authMethod: r.auth === 'None' ? 'None' : 'CHAP',
      headerDigest: r.headerDigest ?? 'None',
      dataDigest: r.dataDigest ?? 'None',
      sessionType: r.discovery ? 'Discovery' : 'Normal',
      protocol: r.protocol ?? 'iscsi',
      enable: r.enable ?? true,
    };
    if (!r.discovery) t.targetName = r.targetName;
    if (r.auth !== 'None') {
      t.chapIName = r.chapIName;
      t.chapSecret = r.chapSecret;
      if (r.mutual) {
        t.tgtChapName = r.tgtChapName ?? 'them';
        t.tgtChapSecret = r.tgtChapSecret ?? 'their-secret';
      }
    }
    for (const key of [
      'initiatorName',
      'initiatorAddress',
      'initiatorAlias',
      'offload',
      'dscp',
      'pcp',
      'pingTimeout',
      'loginTimeout',
    ] as const) {
      if (r[key] !== undefined) t[key] = r[key];
    }
    return t as unknown as IscsiConfTarget;
  });

describe('iscsi.conf print and parse', () => {
  it('parse(print(targets)) gives the targets back', () => {
    fc.assert(
      fc.property(fc.uniqueArray(target, { maxLength: 5, selector: (t) => t.nickname.toLowerCase() }), (targets) => {
        const text = printIscsiConf(targets);
        expect(parseIscsiConf(text).targets).toEqual(targets);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to print what the format cannot hold', () => {
    const [one] = parseIscsiConf('t {\n TargetAddress = a\n TargetName = iqn.2000-01.com.x:y\n}').targets;
    expect(() => printIscsiConf([{ ...one!, chapSecret: 'say "hi"' }])).toThrow(ConfigPrintError);
  });

  it('hostile text yields targets or a ConfigError, nothing else', () => {
    const alphabet = fc.constantFrom(
      '{',
      '}',
      '=',
      ';',
      '"',
      '#',
      '\n',
      ' ',
      'a',
      'TargetName',
      'TargetAddress',
      'iqn.2000-01.x:y',
      '[::1]:1',
      '\0',
      'é',
      '!',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')),
        ),
        (text) => {
          try {
            parseIscsiConf(text);
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            const { issues } = err as ConfigError;
            expect(issues.length).toBeGreaterThan(0);
            for (const issue of issues) {
              expect(issue.line).toBeGreaterThanOrEqual(1);
              expect(issue.line).toBeLessThanOrEqual(text.split('\n').length);
              expect(issue.column).toBeGreaterThanOrEqual(1);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
