/**
 * `iser target -c target.yaml` in-process: usage rules (-c exclusive with the flags), a malformed file refused at
 * start with its line and nothing served, a running target whose reload meets a malformed file keeps serving and
 * logs the error with its line, /metrics numbers that match the I/O done, and JSON log lines carrying ids.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortalAddress } from '../../protocol/datamover.js';
import { read10, testUnitReady, write10 } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatus } from '../../protocol/scsi/status.js';
import type { IscsiTarget } from '../../server/iscsi-target.js';
import { runTargetCli, type ServingInfo, type TargetCliIo } from '../../server/target-cli.js';
import { TcpConnector } from '../../transports/tcp/index.js';
import { ScriptedInitiator } from './scripted-initiator.js';

const A = 'iqn.2024-01.org.example:file-a';
const B = 'iqn.2024-01.org.example:file-b';
const HOST = 'iqn.2024-01.org.example:host';

function yaml(targets: readonly string[], extra = ''): string {
  return [
    'portals:',
    '  - transport: tcp',
    '    host: 127.0.0.1',
    '    port: 0',
    'targets:',
    ...targets.flatMap((iqn) => [`  - iqn: ${iqn}`, '    luns:', '      0: mem:1M']),
    extra,
    '',
  ].join('\n');
}

/** Records output; `scenario` runs once listening and its result is returned after the CLI exits. */
async function run<T>(
  argv: readonly string[],
  scenario?: (target: IscsiTarget, info: ServingInfo, logs: () => Record<string, unknown>[]) => Promise<T>,
) {
  const out: string[] = [];
  const err: string[] = [];
  const log: string[] = [];
  let stop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const entries = (): Record<string, unknown>[] => log.map((line) => JSON.parse(line) as Record<string, unknown>);
  let result: Promise<T> | undefined;
  const io: TargetCliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    log: (line) => log.push(line),
    untilStopped: () => stopped,
    onReload: () => () => undefined,
    onListening: (target, info) => {
      result = (scenario?.(target, info, entries) ?? Promise.resolve(undefined as T)).finally(() => {
        stop('SIGTERM');
      });
    },
  };
  const code = await runTargetCli(argv, io);
  return { code, out, err, log, entries, value: await result };
}

async function login(address: PortalAddress, targetName: string, d: number): Promise<ScriptedInitiator> {
  const initiator = new ScriptedInitiator(await new TcpConnector().connect(address));
  await initiator.login({ initiatorName: HOST, targetName, isid: { type: 2, a: 0, b: 5, c: 5, d }, transport: 'tcp' });
  // Answer the logout request a shutdown or reload sends, as an initiator should.
  void initiator
    .next((p) => p.kind === 'async-message')
    .then(() => initiator.logout())
    .catch(() => undefined);
  return initiator;
}

/** One sample of a metric with exactly these labels, from the text format. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? '' : `{${labels}}`} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('iser target -c', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-target-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses -c together with target flags, naming them', async () => {
    const { code, err } = await run(['-c', 'x.yaml', '--iqn', A, '--lun', '0=mem:1M']);
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('-c/--config and --iqn, --lun are exclusive');
  });

  it('refuses a malformed file at start with file:line:column, and serves nothing', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, yaml([A]).replace('port: 0', 'port: 99999'));
    const { code, err, out } = await run(['-c', path]);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(new RegExp(`^error: ${path}:4:11: portals\\[0\\]\\.port: `));
    expect(out).toEqual([]);
  });

  it('names the target and LUN whose backend cannot be opened, and exits 1', async () => {
    const path = join(dir, 'backend.yaml');
    await writeFile(path, yaml([A]).replace('0: mem:1M', `0: file:${join(dir, 'no-such-dir', 'l.img')}:1M`));
    const { code, err, out } = await run(['-c', path]);
    expect(code).toBe(1);
    expect(err.join('\n')).toContain(`error: ERR_SERVER_BACKEND: target ${A} LUN 0: cannot open file:`);
    expect(out).toEqual([]);
  });

  it('says when the file cannot be read', async () => {
    const { code, err } = await run(['-c', join(dir, 'absent.yaml')]);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/cannot read .*absent\.yaml/);
  });

  it('refuses a non-loopback metrics address unless allowed', async () => {
    const path = join(dir, 'remote-metrics.yaml');
    await writeFile(path, yaml([A], 'metrics:\n  listen: 192.0.2.1:9464'));
    const { code, err } = await run(['-c', path]);
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('only a loopback address');
  });

  it('serves; a malformed reload keeps everything and logs the line; /metrics counts the I/O; logs carry ids', async () => {
    const path = join(dir, 'good.yaml');
    await writeFile(path, yaml([A, B], 'metrics:\n  listen: 127.0.0.1:0'));
    const { code, out, entries, value } = await run(['-c', path], async (target, info, logs) => {
      const address = target.portals[0]!.address;
      const a = await login(address, A, 1);
      // TEST UNIT READY meets the power-on unit attention (CHECK CONDITION), then 2 blocks written, 3 read.
      expect((await a.command(testUnitReady())).response.status).toBe(ScsiStatus.CheckCondition);
      const data = Buffer.alloc(1024, 0xab);
      expect((await a.command(write10({ lba: 0, blocks: 2 }), { write: data })).response.status).toBe(ScsiStatus.Good);
      expect((await a.command(read10({ lba: 0, blocks: 2 }), { readLength: 1024 })).data).toEqual(data);
      expect((await a.command(read10({ lba: 0, blocks: 1 }), { readLength: 512 })).response.status).toBe(
        ScsiStatus.Good,
      );

      // A malformed file on reload: error logged with its line, everything keeps serving.
      await writeFile(path, yaml([A], 'metrics:\n  listen: 127.0.0.1:0\nbogus: 1'));
      await info.reload();
      const failed = logs().find((e) => e.event === 'reload-failed');
      expect(failed).toMatchObject({ level: 50, file: path, line: 11 });
      expect(String(failed?.msg)).toContain('unknown key "bogus"');
      expect(target.config.targets.size).toBe(2);
      expect((await a.command(read10({ lba: 0, blocks: 1 }), { readLength: 512 })).response.status).toBe(
        ScsiStatus.Good,
      );

      // A login to a target that is not there: refused, counted and logged.
      await expect(login(address, 'iqn.2024-01.org.example:nowhere', 9)).rejects.toThrow();
      const metrics = await (await fetch(`http://127.0.0.1:${info.metrics!.port}/metrics`)).text();
      const notFound = await fetch(`http://127.0.0.1:${info.metrics!.port}/other`);
      expect(notFound.status).toBe(404);

      // A valid reload: B removed, A untouched.
      await writeFile(path, yaml([A], 'metrics:\n  listen: 127.0.0.1:0'));
      await info.reload();
      expect(target.config.targets.size).toBe(1);
      expect((await a.command(read10({ lba: 0, blocks: 1 }), { readLength: 512 })).response.status).toBe(
        ScsiStatus.Good,
      );
      return metrics;
    });
    expect(code).toBe(0);
    expect(out[0]).toMatch(new RegExp(`^serving ${A}, ${B} on 127\\.0\\.0\\.1:\\d+ \\(tcp\\)$`));
    expect(out[1]).toMatch(/^metrics on http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const text = value ?? '';
    const t = `target="${A}"`;
    expect(sample(text, 'iser_target_commands_total', `${t},lun="0",op="other"`)).toBe(1);
    expect(sample(text, 'iser_target_commands_total', `${t},lun="0",op="write"`)).toBe(1);
    expect(sample(text, 'iser_target_commands_total', `${t},lun="0",op="read"`)).toBe(3);
    expect(sample(text, 'iser_target_written_bytes_total', `${t},lun="0"`)).toBe(1024);
    expect(sample(text, 'iser_target_read_bytes_total', `${t},lun="0"`)).toBe(1024 + 512 + 512);
    expect(sample(text, 'iser_target_command_duration_seconds_count', `${t},op="read"`)).toBe(3);
    expect(sample(text, 'iser_target_sessions', t)).toBe(1);
    expect(sample(text, 'iser_target_connections')).toBe(1);
    expect(sample(text, 'iser_target_errors_total', 'kind="check_condition"')).toBe(1);
    expect(sample(text, 'iser_target_errors_total', 'kind="login_failure"')).toBe(1);
    expect(sample(text, 'iser_target_logins_total')).toBe(1);
    expect(sample(text, 'iser_target_reloads_total', 'result="error"')).toBe(1);

    const logs = entries();
    const open = logs.find((e) => e.event === 'connection-open');
    expect(open).toMatchObject({
      conn: 1,
      transport: 'tcp',
      remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as string,
    });
    expect(logs.find((e) => e.event === 'session-login')).toMatchObject({
      conn: 1,
      tsih: expect.any(Number) as number,
      isid: '800005050001',
      initiator: HOST,
      target: A,
      cid: 0,
    });
    expect(logs.find((e) => e.event === 'reload')).toMatchObject({ removed: [B], unchanged: [A] });
    expect(logs.find((e) => e.event === 'login-failed')).toMatchObject({ conn: 2, level: 40, transport: 'tcp' });
    expect(logs.find((e) => e.event === 'session-logout')).toMatchObject({ conn: 1, initiator: HOST, target: A });
    expect(logs.find((e) => e.event === 'connection-close' && e.conn === 1)).toMatchObject({ conn: 1, cid: 0 });
    for (const entry of logs) expect(typeof entry.time).toBe('string');
  });

  it('a reload applies logging.level at once, unless --log-level was given', async () => {
    const path = join(dir, 'levels.yaml');
    const levels = async (argv: readonly string[]): Promise<string[]> => {
      await writeFile(path, yaml([A]));
      const { entries } = await run([...argv, '-c', path], async (target, info) => {
        await writeFile(path, yaml([A], 'logging:\n  level: warn'));
        await info.reload();
        // An info event after the reload: a connection opening and closing.
        const connection = await new TcpConnector().connect(target.portals[0]!.address);
        await connection.close();
      });
      return entries().map((e) => String(e.event));
    };
    const fromFile = await levels([]);
    expect(fromFile).toContain('reload');
    expect(fromFile).not.toContain('connection-open');
    const overridden = await levels(['--log-level', 'info']);
    expect(overridden).toContain('connection-open');
  });
});
