import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../config/errors.js';
import {
  loadTargetConfig,
  parseTargetConfig,
  renderTargetConfig,
  type ChapCredentials,
  type TargetFileConfig,
} from '../../config/target-config.js';

const EXAMPLE = fileURLToPath(new URL('../../config/examples/target.yaml', import.meta.url));

function errorOf(text: string): ConfigError {
  try {
    parseTargetConfig(text, 't.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const MINIMAL = `portals:
  - transport: tcp
    host: 127.0.0.1
targets:
  - iqn: iqn.2024-01.org.example:disk
    luns:
      0: mem:1M
`;

describe('target.yaml', () => {
  it('the example file parses', async () => {
    const config = await loadTargetConfig(EXAMPLE);
    expect(config.warnings).toEqual([]);
    expect(config.portals).toEqual([
      { transport: 'tcp', host: '127.0.0.1', port: 3260 },
      { transport: 'iser', host: '127.0.0.1', port: 3261, provider: 'softroce-udp' },
    ]);
    expect(config.targets[0]).toMatchObject({
      iqn: 'iqn.2024-01.org.example:disk1',
      luns: [
        { lun: 0, backend: 'mem:256M' },
        { lun: 1, backend: 'file:/var/lib/iser/disk1-lun1.img:1G' },
      ],
      headerDigest: ['CRC32C', 'None'],
      dataDigest: ['None'],
      mutualChap: { user: 'target1', secret: 'target1-secret-5678' },
    });
    expect(config.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    // The example stays in step with what renderTargetConfig writes.
    const { warnings: _warnings, ...rest } = config;
    expect(parseTargetConfig(renderTargetConfig(rest))).toEqual(config);
  });

  it('fills in defaults', () => {
    const config = parseTargetConfig(MINIMAL);
    expect(config).toEqual({
      portals: [{ transport: 'tcp', host: '127.0.0.1', port: 3260 }],
      targets: [
        {
          iqn: 'iqn.2024-01.org.example:disk',
          luns: [{ lun: 0, backend: 'mem:1M' }],
          allowedInitiators: 'any',
          headerDigest: ['None', 'CRC32C'],
          dataDigest: ['None', 'CRC32C'],
        },
      ],
      discovery: { enabled: true, allowedInitiators: 'any' },
      logging: { level: 'info' },
      allowShortChapSecrets: false,
      warnings: [],
    });
    expect(parseTargetConfig(MINIMAL.replace('transport: tcp', 'transport: iser')).portals[0]).toEqual({
      transport: 'iser',
      host: '127.0.0.1',
      port: 3260,
      provider: 'native',
    });
  });

  /** Each mistake, the line and column it must be reported at, the code and part of the message. */
  const mistakes: [string, string, number, number, string, string][] = [
    ['YAML syntax', 'portals: [\n', 2, 1, 'ERR_CONFIG_SYNTAX', 'Flow sequence'],
    ['duplicate key', MINIMAL + 'portals: []\n', 8, 1, 'ERR_CONFIG_DUPLICATE', 'Map keys must be unique'],
    [
      'unknown key',
      MINIMAL.replace('    host:', '    hots: x\n    host:'),
      3,
      5,
      'ERR_CONFIG_UNKNOWN_KEY',
      'unknown key "hots" in portals[0]',
    ],
    [
      'bad port',
      MINIMAL.replace('host: 127.0.0.1', 'host: 127.0.0.1\n    port: 70000'),
      4,
      11,
      'ERR_CONFIG_VALUE',
      'portals[0].port',
    ],
    [
      'bad transport',
      MINIMAL.replace('transport: tcp', 'transport: fc'),
      2,
      16,
      'ERR_CONFIG_VALUE',
      'portals[0].transport',
    ],
    [
      'bad provider',
      MINIMAL.replace('transport: tcp', 'transport: iser\n    provider: ib'),
      3,
      15,
      'ERR_CONFIG_VALUE',
      'portals[0].provider',
    ],
    [
      'missing luns',
      MINIMAL.replace('    luns:\n      0: mem:1M\n', ''),
      5,
      5,
      'ERR_CONFIG_MISSING',
      'targets[0].luns is required',
    ],
    [
      'missing targets',
      MINIMAL.slice(0, MINIMAL.indexOf('targets:')),
      1,
      1,
      'ERR_CONFIG_MISSING',
      'targets is required',
    ],
    [
      'bad iqn',
      MINIMAL.replace('iqn.2024-01.org.example:disk', 'disk'),
      5,
      10,
      'ERR_CONFIG_VALUE',
      'targets[0].iqn: must be an iSCSI name',
    ],
    [
      'bad LUN number',
      MINIMAL.replace('0: mem:1M', '99999: mem:1M'),
      7,
      7,
      'ERR_CONFIG_VALUE',
      'LUN "99999" must be a number',
    ],
    [
      'duplicate LUN key',
      MINIMAL.replace('0: mem:1M', '0: mem:1M\n      00: mem:1M'),
      8,
      7,
      'ERR_CONFIG_DUPLICATE',
      'unique',
    ],
    [
      'same LUN twice',
      MINIMAL.replace('0: mem:1M', '0: mem:1M\n      "00": mem:1M'),
      8,
      7,
      'ERR_CONFIG_VALUE',
      'LUN 0 is listed twice',
    ],
    ['bad backend', MINIMAL.replace('mem:1M', 'tape:1M'), 7, 10, 'ERR_CONFIG_VALUE', 'unknown backend "tape"'],
    ['bad size', MINIMAL.replace('mem:1M', 'mem:lots'), 7, 10, 'ERR_CONFIG_VALUE', 'size "lots"'],
    [
      'mutual without chap',
      MINIMAL + '    mutualChap: { user: t, secret: twelve-bytes-ok }\n',
      8,
      17,
      'ERR_CONFIG_VALUE',
      'mutual CHAP needs chap',
    ],
    [
      'short secret',
      MINIMAL + '    chap:\n      user: u\n      secret: short\n',
      10,
      15,
      'ERR_CONFIG_VALUE',
      'shorter than 12 bytes',
    ],
    [
      'duplicate target',
      MINIMAL + '  - iqn: IQN.2024-01.org.example:disk\n    luns: { 0: "mem:1M" }\n',
      8,
      10,
      'ERR_CONFIG_VALUE',
      'already defined',
    ],
    [
      'duplicate portal',
      MINIMAL.replace('targets:', '  - { transport: iser, host: 127.0.0.1 }\ntargets:'),
      4,
      5,
      'ERR_CONFIG_VALUE',
      'already listed',
    ],
    [
      'bad digest',
      MINIMAL + '    headerDigest: [CRC32C, MD5]\n',
      8,
      28,
      'ERR_CONFIG_VALUE',
      'targets[0].headerDigest[1]: Invalid option',
    ],
    ['bad metrics listen', MINIMAL + 'metrics:\n  listen: localhost\n', 9, 11, 'ERR_CONFIG_VALUE', 'must be host:port'],
    ['bad log level', MINIMAL + 'logging:\n  level: loud\n', 9, 10, 'ERR_CONFIG_VALUE', 'logging.level'],
    ['bad ACL', MINIMAL + '    allowedInitiators: all\n', 8, 24, 'ERR_CONFIG_VALUE', 'must be "any" or a list'],
    [
      'bad initiator name',
      MINIMAL + '    allowedInitiators: ["has space"]\n',
      8,
      25,
      'ERR_CONFIG_VALUE',
      'allowedInitiators[0]',
    ],
    ['not a mapping', '- 1\n', 1, 1, 'ERR_CONFIG_VALUE', 'must be a mapping'],
  ];

  it.each(mistakes)('reports %s at its line and column', (_name, text, line, column, code, message) => {
    const err = errorOf(text);
    expect(err.issues[0]).toMatchObject({ line, column, code });
    expect(err.issues[0]?.message).toContain(message);
    expect(err.message.split('\n')[0]).toMatch(new RegExp(`^t\\.yaml:${line}:${column}: `));
  });

  it('reports every problem at once, in file order', () => {
    const err = errorOf(MINIMAL.replace('host: 127.0.0.1', 'host: 127.0.0.1\n    port: -1').replace('mem:1M', 'mem:0'));
    expect(err.issues.map((i) => i.line)).toEqual([4, 8]);
  });

  it('bounds the input', () => {
    expect(errorOf('#'.repeat(2 * 1024 * 1024)).code).toBe('ERR_CONFIG_TOO_LARGE');
    const bomb =
      'a: &a [x, x, x, x, x, x, x, x, x, x]\n' +
      Array.from(
        { length: 12 },
        (_, i) =>
          `b${i}: &b${i} [*${i === 0 ? 'a' : `b${i - 1}`}, *${i === 0 ? 'a' : `b${i - 1}`}, *${i === 0 ? 'a' : `b${i - 1}`}]`,
      ).join('\n');
    expect(errorOf(bomb)).toBeInstanceOf(ConfigError);
  });

  it('hostile YAML yields a config or a ConfigError, nothing else', () => {
    const pieces = fc.constantFrom(
      'portals:',
      'targets:',
      '\n',
      '  ',
      '- ',
      'iqn: ',
      'luns:',
      '0: ',
      'mem:1M',
      '{',
      '}',
      '[',
      ']',
      '&a ',
      '*a',
      '"',
      ':',
      'host: ',
      'x',
      '#',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.array(pieces, { maxLength: 40 }).map((a) => a.join('')),
        ),
        (text) => {
          try {
            parseTargetConfig(text);
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            for (const issue of (err as ConfigError).issues) {
              expect(issue.line).toBeGreaterThanOrEqual(1);
              expect(issue.line).toBeLessThanOrEqual(text.split('\n').length + 1);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

const iqn = fc
  .tuple(fc.integer({ min: 1990, max: 2030 }), fc.stringMatching(/^[a-z][a-z0-9.-]{0,12}$/))
  .map(([year, name]) => `iqn.${year}-01.org.example:${name}`);
const host = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().filter((a) => !a.includes('.')),
);
const secret = fc.string({ unit: 'grapheme', minLength: 12, maxLength: 30 }).filter((s) => Buffer.byteLength(s) <= 255);
const credentials: fc.Arbitrary<ChapCredentials> = fc.record({
  user: fc.string({ minLength: 1, maxLength: 20 }),
  secret,
});
const digests = fc.uniqueArray(fc.constantFrom('None' as const, 'CRC32C' as const), { minLength: 1, maxLength: 2 });
const allowed = fc.oneof(fc.constant('any' as const), fc.array(iqn, { minLength: 1, maxLength: 3 }));
const auth = fc.option(fc.tuple(credentials, fc.option(credentials, { nil: undefined })), { nil: undefined });

const config: fc.Arbitrary<TargetFileConfig> = fc
  .record({
    portals: fc.uniqueArray(
      fc.oneof(
        fc.record({ transport: fc.constant('tcp' as const), host, port: fc.integer({ min: 1, max: 65535 }) }),
        fc.record({
          transport: fc.constant('iser' as const),
          host,
          port: fc.integer({ min: 1, max: 65535 }),
          provider: fc.constantFrom('native' as const, 'softroce-udp' as const, 'sim' as const),
        }),
      ),
      { minLength: 1, maxLength: 3, selector: (p) => `${p.host}:${p.port}`.toLowerCase() },
    ),
    targets: fc.uniqueArray(
      fc.record({
        iqn,
        alias: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
        luns: fc
          .uniqueArray(
            fc.record({
              lun: fc.integer({ min: 0, max: 16383 }),
              backend: fc.constantFrom('mem:1M', 'mem:256M', 'file:/tmp/x.img', 'file:/srv/a:b.img:1G'),
            }),
            { minLength: 1, maxLength: 4, selector: (l) => l.lun },
          )
          .map((luns) => luns.sort((a, b) => a.lun - b.lun)),
        allowedInitiators: allowed,
        auth,
        headerDigest: digests,
        dataDigest: digests,
      }),
      { minLength: 1, maxLength: 3, selector: (t) => t.iqn.toLowerCase() },
    ),
    discovery: fc.record({ enabled: fc.boolean(), allowedInitiators: allowed, auth }),
    metrics: fc.option(fc.record({ host, port: fc.integer({ min: 1, max: 65535 }) }), { nil: undefined }),
    logging: fc.record({
      level: fc.constantFrom('trace' as const, 'debug' as const, 'info' as const, 'silent' as const),
    }),
    allowShortChapSecrets: fc.boolean(),
  })
  .map((r) => {
    const withAuth = <T extends { auth: [ChapCredentials, ChapCredentials | undefined] | undefined }>(x: T) => {
      const { auth: a, ...rest } = x;
      return {
        ...rest,
        ...(a !== undefined && { chap: a[0] }),
        ...(a?.[1] !== undefined && { mutualChap: a[1] }),
      };
    };
    return {
      ...r,
      targets: r.targets.map((t) => {
        const { alias, ...rest } = withAuth(t);
        return alias === undefined ? rest : { ...rest, alias };
      }),
      discovery: withAuth(r.discovery),
      ...(r.metrics === undefined ? { metrics: undefined } : {}),
    };
  })
  .map((c) => {
    if (c.metrics !== undefined) return c;
    const { metrics: _metrics, ...rest } = c;
    return rest;
  });

describe('target.yaml render and parse', () => {
  it('a valid config rendered to YAML parses back equal', () => {
    fc.assert(
      fc.property(config, (value) => {
        const { warnings, ...parsed } = parseTargetConfig(renderTargetConfig(value));
        expect(warnings).toEqual([]);
        expect(parsed).toEqual(value);
      }),
      { numRuns: 150 },
    );
  });
});
