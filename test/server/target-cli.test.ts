import { describe, expect, it } from 'vitest';
import { inquiry } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatus } from '../../protocol/scsi/status.js';
import type { IscsiTarget } from '../../server/iscsi-target.js';
import {
  parseChapArgument,
  parseLunArgument,
  parsePortal,
  runTargetCli,
  type ServingInfo,
  type TargetCliIo,
} from '../../server/target-cli.js';
import { TcpConnector } from '../../transports/tcp/index.js';
import { ScriptedInitiator } from './scripted-initiator.js';

/** An io that records lines (JSON log lines apart) and stops when told. */
function recordingIo(onListening?: (target: IscsiTarget, stop: () => void, info: ServingInfo) => void) {
  const out: string[] = [];
  const err: string[] = [];
  const log: string[] = [];
  let stop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const io: TargetCliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    log: (line) => log.push(line),
    untilStopped: () => stopped,
    // No SIGHUP handler in tests: reloads are called through ServingInfo.reload.
    onReload: () => () => undefined,
    onListening: (target, info) =>
      onListening?.(
        target,
        () => {
          stop('SIGTERM');
        },
        info,
      ),
  };
  /** The log lines as objects (each must be JSON). */
  const entries = (): Record<string, unknown>[] => log.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { io, out, err, log, entries };
}

describe('iser target: argument parsing', () => {
  it('parses portals, LUNs and CHAP credentials', () => {
    expect(parsePortal('127.0.0.1:3261')).toEqual({ host: '127.0.0.1', port: 3261 });
    expect(parsePortal('[::1]:3262')).toEqual({ host: '::1', port: 3262 });
    expect(parsePortal('example.com')).toEqual({ host: 'example.com', port: 3260 });
    expect(() => parsePortal('a:b:c')).toThrow();
    expect(parseLunArgument('1=file:/srv/a:b.img:1G')).toEqual({ lun: 1, spec: 'file:/srv/a:b.img:1G' });
    expect(() => parseLunArgument('mem:1M')).toThrow();
    expect(parseChapArgument('user:sec:ret')).toEqual({ user: 'user', secret: 'sec:ret' });
    expect(() => parseChapArgument(':secret')).toThrow();
  });

  it.each([
    [['--lun', '0=mem:1M'], 'no --iqn'],
    [['--iqn', 'iqn.2024-01.a:b'], 'no --lun'],
    [['--iqn', 'iqn.2024-01.a:b', '--lun', 'zero'], 'a bad --lun'],
    [['--iqn', 'iqn.2024-01.a:b', '--lun', '0=mem:1M', '--mutual-chap', 'a:b'], '--mutual-chap without --chap'],
  ])('exits 1 (usage) on %j (%s)', async (argv) => {
    const { io, err } = recordingIo();
    expect(await runTargetCli(argv, io)).toBe(1);
    expect(err.join('\n')).toMatch(/error/);
  });

  it('exits 1 with the error code when the configuration is refused', async () => {
    const { io, err } = recordingIo();
    const code = await runTargetCli(['--iqn', 'not-a-name', '--lun', '0=mem:1M', '--portal', '127.0.0.1:0'], io);
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('ERR_TARGET_CONFIG_NAME');
  });
});

describe('iser target: serving', () => {
  it('serves a memory LUN on the portal until stopped, then logs sessions out and exits 0', async () => {
    let answered: number | undefined;
    const { io, out, entries } = recordingIo((target, stop) => {
      void (async () => {
        const initiator = new ScriptedInitiator(await new TcpConnector().connect(target.portals[0]!.address));
        await initiator.login({
          initiatorName: 'iqn.2024-01.org.example:host',
          targetName: 'iqn.2024-01.org.example:cli',
          isid: { type: 2, a: 0, b: 1, c: 1, d: 1 },
          transport: 'tcp',
        });
        answered = (await initiator.command(inquiry({ allocationLength: 36 }), { readLength: 36 })).response.status;
        // Answer the target's logout request, as an initiator should.
        void initiator.next((p) => p.kind === 'async-message').then(() => initiator.logout());
        stop();
      })();
    });
    const code = await runTargetCli(
      [
        '--iqn',
        'iqn.2024-01.org.example:cli',
        '--lun',
        '0=mem:1M',
        '--portal',
        '127.0.0.1:0',
        '--allow',
        'iqn.2024-01.org.example:host',
      ],
      io,
    );
    expect(code).toBe(0);
    expect(answered).toBe(ScsiStatus.Good);
    expect(out.join('\n')).toMatch(/^serving iqn\.2024-01\.org\.example:cli on 127\.0\.0\.1:\d+$/m);
    expect(entries()).toContainEqual(
      expect.objectContaining({ event: 'shutdown', msg: 'SIGTERM: logging sessions out' }),
    );
    expect(entries()).toContainEqual(
      expect.objectContaining({ event: 'session-logout', initiator: 'iqn.2024-01.org.example:host' }),
    );
  });

  it('serves /metrics with --metrics and ignores a reload request (no file), saying so', async () => {
    let scraped = '';
    const { io, out, entries } = recordingIo((target, stop, info) => {
      void (async () => {
        const initiator = new ScriptedInitiator(await new TcpConnector().connect(target.portals[0]!.address));
        await initiator.login({
          initiatorName: 'iqn.2024-01.org.example:host',
          targetName: 'iqn.2024-01.org.example:cli',
          isid: { type: 2, a: 0, b: 1, c: 1, d: 2 },
          transport: 'tcp',
        });
        await initiator.command(inquiry({ allocationLength: 36 }), { readLength: 36 });
        await info.reload();
        scraped = await (await fetch(`http://127.0.0.1:${info.metrics!.port}/metrics`)).text();
        void initiator.next((p) => p.kind === 'async-message').then(() => initiator.logout());
        stop();
      })();
    });
    const argv = ['--iqn', 'iqn.2024-01.org.example:cli', '--lun', '0=mem:1M', '--portal', '127.0.0.1:0'];
    expect(await runTargetCli([...argv, '--metrics', '127.0.0.1:0', '--log-level', 'warn'], io)).toBe(0);
    expect(out[1]).toMatch(/^metrics on http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(scraped).toContain('iser_target_commands_total{target="iqn.2024-01.org.example:cli",lun="0",op="read"} 1');
    expect(scraped).toContain('iser_target_read_bytes_total{target="iqn.2024-01.org.example:cli",lun="0"} 36');
    expect(scraped).toContain('iser_target_sessions{target="iqn.2024-01.org.example:cli"} 1');
    // --log-level warn: only the warning about the reload, no info lines.
    expect(entries().map((e) => e.event)).toEqual(['reload-ignored']);
  });

  it('refuses a --metrics address without a port', async () => {
    const { io, err } = recordingIo();
    const code = await runTargetCli(
      ['--iqn', 'iqn.2024-01.org.example:cli', '--lun', '0=mem:1M', '--metrics', '127.0.0.1'],
      io,
    );
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('is not host:port');
  });
});
