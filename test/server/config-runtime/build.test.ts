/** buildTargetConfig: target.yaml → server configuration, reusing unchanged nodes and backends across builds. */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../backends/memory.js';
import { parseTargetConfig, type TargetFileConfig } from '../../../config/target-config.js';
import type { BlockBackend } from '../../../protocol/scsi/backend.js';
import { buildTargetConfig } from '../../../server/config-runtime/build.js';

function parse(text: string): TargetFileConfig {
  const { warnings: _w, ...config } = parseTargetConfig(text);
  return config;
}

const BASE = `
portals:
  - { transport: tcp, host: 127.0.0.1, port: 3260 }
  - { transport: iser, host: 127.0.0.1, port: 3261, provider: softroce-udp }
targets:
  - iqn: iqn.2024-01.org.example:a
    luns: { 0: "mem:1M", 1: "mem:2M" }
    allowedInitiators: [iqn.2024-01.org.example:i]
    chap: { user: u, secret: initiator-secret }
    mutualChap: { user: t, secret: target-secret-12 }
    headerDigest: CRC32C
  - iqn: iqn.2024-01.org.example:b
    luns: { 0: "mem:1M" }
discovery:
  enabled: false
`;

function opener() {
  const opened: string[] = [];
  const closed: string[] = [];
  const open = (spec: string): Promise<BlockBackend> => {
    opened.push(spec);
    const backend = new MemoryBackend(2048);
    return Promise.resolve(
      Object.assign(backend, {
        close: () => {
          closed.push(spec);
          return Promise.resolve();
        },
      }),
    );
  };
  return { open, opened, closed };
}

describe('buildTargetConfig', () => {
  it('maps targets, ACLs, CHAP, digests, portals and discovery', async () => {
    const { open } = opener();
    const { built } = await buildTargetConfig(parse(BASE), undefined, open);
    const a = built.config.targets[0]!;
    expect(a).toMatchObject({
      name: 'iqn.2024-01.org.example:a',
      acl: ['iqn.2024-01.org.example:i'],
      chap: {
        accounts: [{ user: 'u', secret: 'initiator-secret' }],
        mutual: { user: 't', secret: 'target-secret-12' },
      },
      negotiation: { headerDigest: ['CRC32C'], dataDigest: ['None', 'CRC32C'] },
    });
    expect(a.luns.map((l) => l.lun)).toEqual([0, 1]);
    expect(built.config.portalGroups).toEqual([
      {
        tag: 1,
        portals: [
          { host: '127.0.0.1', port: 3260, transport: 'tcp' },
          { host: '127.0.0.1', port: 3261, transport: 'iser' },
        ],
      },
    ]);
    expect(built.config.discovery).toEqual({ enabled: false, acl: 'any' });
  });

  it('keeps unchanged nodes and LUN backends, opens only new ones, reports dropped ones', async () => {
    const { open, opened } = opener();
    const first = await buildTargetConfig(parse(BASE), undefined, open);
    expect(opened).toHaveLength(3);
    // b gets an alias (replaced, same backend), a loses LUN 1 (dropped) and changes nothing else... except luns.
    const next = BASE.replace('luns: { 0: "mem:1M", 1: "mem:2M" }', 'luns: { 0: "mem:1M", 2: "mem:4M" }').replace(
      '  - iqn: iqn.2024-01.org.example:b\n',
      '  - iqn: iqn.2024-01.org.example:b\n    alias: bee\n',
    );
    const second = await buildTargetConfig(parse(next), first.built, open);
    expect(opened).toEqual(['mem:1M', 'mem:2M', 'mem:1M', 'mem:4M']);
    expect(second.opened).toHaveLength(1);
    expect(second.dropped).toEqual([first.built.config.targets[0]!.luns[1]!.backend]);
    const [a1, b1] = first.built.config.targets;
    const [a2, b2] = second.built.config.targets;
    expect(a2).not.toBe(a1);
    expect(b2).not.toBe(b1);
    expect(b2!.luns[0]!.backend).toBe(b1!.luns[0]!.backend);
    expect(a2!.luns[0]!.backend).toBe(a1!.luns[0]!.backend);
    // Built again from the same text: every node is the very same object.
    const third = await buildTargetConfig(parse(next), second.built, open);
    expect(third.built.config.targets[0]).toBe(a2);
    expect(third.built.config.targets[1]).toBe(b2);
    expect(third.opened).toEqual([]);
    expect(third.dropped).toEqual([]);
  });

  it('closes what it opened when a backend fails to open', async () => {
    const { open, closed } = opener();
    let calls = 0;
    const failing = (spec: string): Promise<BlockBackend> =>
      ++calls === 2 ? Promise.reject(new Error('no room')) : open(spec);
    await expect(buildTargetConfig(parse(BASE), undefined, failing)).rejects.toMatchObject({
      code: 'ERR_SERVER_BACKEND',
      message: 'target iqn.2024-01.org.example:a LUN 1: cannot open mem:2M: no room',
    });
    expect(closed).toEqual(['mem:1M']);
  });
});
