/**
 * Live wire check of the UDP link (roce-rxe.md §3.9): a soft-RoCE session on loopback captured with tshark on
 * `lo`, and scapy recomputing each ICRC over the IP header the kernel really sent. With the native addon's
 * setsockoptInt (IP_MTU_DISCOVER = IP_PMTUDISC_DO) the kernel sends IPv4 ID 0 and every ICRC verifies, as rxe
 * needs; without it the kernel picks IDs and the ICRCs (computed for ID 0) do not verify on the wire.
 *
 * Skips with a reason when tshark, capture rights on lo, scapy or the native addon are missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UdpLink, type SetSockoptInt } from '../../../../sim/roce/link/udp-link.js';
import { field, runTshark } from '../../../support/tshark.js';
import { missing } from '../../../support/tools.js';
import { makeUdpEnv, within } from '../provider/udp-env.js';
import { connect, runSession } from '../provider/session.js';
import { runWithTimeout } from '../run-with-timeout.js';
import { SCAPY_MISSING, SCAPY_PYTHON } from '../scapy-python.js';

/** The native addon's setsockoptInt, or why it cannot be used here. */
async function nativeSetsockopt(): Promise<SetSockoptInt | string> {
  try {
    const native = await import('../../../../native/index.js');
    const probe = new UdpLink({ port: 0, setsockoptInt: native.setsockoptInt });
    const endpoint = await probe.attach('127.0.0.1', () => undefined);
    await endpoint.close();
    return native.setsockoptInt;
  } catch (error) {
    return `SKIP: the native addon's setsockoptInt is not usable here (${error instanceof Error ? error.message : String(error)})`;
  }
}

const SETSOCKOPT = await nativeSetsockopt();
const SKIP =
  missing('tshark', 'apt-get install tshark') ??
  SCAPY_MISSING ??
  (typeof SETSOCKOPT === 'string' ? SETSOCKOPT : undefined);
if (typeof SETSOCKOPT === 'string') console.warn(SETSOCKOPT);

/** Starts tshark on lo with `filter`, resolving once it captures. */
async function startCapture(path: string, filter: string): Promise<ChildProcess> {
  const child = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  await within(
    new Promise<void>((resolve, reject) => {
      let text = '';
      child.stderr.on('data', (b: Buffer) => {
        text += b.toString();
        if (text.includes('Capture started')) resolve();
      });
      child.on('close', (code) => {
        reject(new Error(`tshark exited ${code}: ${text}`));
      });
    }),
    15_000,
    'tshark start',
  );
  // dumpcap reports before its filter is live on every path: give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return child;
}

/** Stops the tshark we started (by its pid) and waits for it to write the file. */
async function stopCapture(child: ChildProcess): Promise<void> {
  const closed = new Promise<void>((resolve) =>
    child.once('close', () => {
      resolve();
    }),
  );
  if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGINT');
  try {
    await within(closed, 10_000, 'tshark stop');
  } catch {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }
}

/** Runs a session with (or without) the hook, captured; returns tshark's IP IDs and scapy's verdicts. */
async function capturedSession(
  setsockoptInt: SetSockoptInt | undefined,
): Promise<{ ids: string[]; checksums: string[]; icrcOk: boolean[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'iser-live-'));
  const path = join(dir, 'live.pcapng');
  const env = await makeUdpEnv({
    link: { port: 0, ...(setsockoptInt === undefined ? {} : { setsockoptInt }) },
  });
  let capture: ChildProcess | undefined;
  try {
    const ports = [env.a.port, env.b.port];
    capture = await startCapture(path, `udp and (port ${ports[0]} or port ${ports[1]}) and host ${env.b.address}`);
    await runSession(env, await connect(env, 0));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await stopCapture(capture);
    capture = undefined;
    const decode = ports.map((p) => `udp.port==${p},infiniband`);
    const packets = await runTshark(path, { decodeAs: decode });
    const script = join(dir, 'icrc.py');
    await writeFile(
      script,
      [
        'import sys',
        'from scapy.utils import rdpcap',
        'from scapy.layers.inet import UDP',
        'from scapy.packet import bind_layers',
        'from scapy.contrib.roce import BTH',
        ...ports.map((p) => `bind_layers(UDP, BTH, dport=${p})`),
        'for p in rdpcap(sys.argv[1]):',
        '    print("ok" if p[BTH].compute_icrc(None) == bytes(p)[-4:] else "bad")',
        '',
      ].join('\n'),
    );
    const out = await runWithTimeout(SCAPY_PYTHON ?? 'python3', [script, path], 60_000);
    return {
      ids: packets.map((p) => field(p, 'ip.id') ?? '?'),
      checksums: packets.map((p) => field(p, 'udp.checksum') ?? '?'),
      icrcOk: out
        .trim()
        .split('\n')
        .map((l) => l === 'ok'),
    };
  } finally {
    if (capture !== undefined) await stopCapture(capture);
    await env.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

describe.skipIf(SKIP !== undefined)('live UDP wire: IPv4 ID 0 and the ICRC', () => {
  it('with IP_PMTUDISC_DO every frame has ID 0 and an ICRC scapy verifies over the real IP header', async () => {
    const { ids, checksums, icrcOk } = await capturedSession(typeof SETSOCKOPT === 'string' ? undefined : SETSOCKOPT);
    expect(ids.length).toBeGreaterThanOrEqual(10);
    expect(ids.every((id) => id === '0x0000')).toBe(true);
    // SO_NO_CHECK: a zero UDP checksum, as rxe sends.
    expect(checksums.every((c) => c === '0x0000')).toBe(true);
    expect(icrcOk.length).toBe(ids.length);
    expect(icrcOk.every(Boolean)).toBe(true);
  });

  it('without it the kernel picks IP IDs, and the ICRCs (computed for ID 0) fail on the wire', async () => {
    const { ids, icrcOk } = await capturedSession(undefined);
    expect(ids.length).toBeGreaterThanOrEqual(10);
    expect(ids.some((id) => id !== '0x0000')).toBe(true);
    expect(icrcOk.some((ok) => !ok)).toBe(true);
  });
});
