/**
 * --pcap over iSCSI/TCP: the connections go through a capturing relay and land in a pcapng file that tshark (when
 * installed) dissects as iSCSI — the login, the INQUIRY and the logout are all there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '../support/peers/run-tool.js';
import { missing } from '../support/tools.js';
import { iser, startTarget, type TestTarget } from './support.js';

let served: TestTarget;
let dir: string;

beforeAll(async () => {
  served = await startTarget();
  dir = await mkdtemp(join(tmpdir(), 'iser-cli-pcap-'));
});

afterAll(async () => {
  await served.close();
  await rm(dir, { recursive: true, force: true });
});

describe('iser --pcap over TCP', () => {
  it('writes a pcapng file and says how to read it', async () => {
    const file = join(dir, 'inq.pcapng');
    const run = await iser(['inq', '--standard', '--pcap', file, served.url(0)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Peripheral Device Type:DIRECT_ACCESS');
    expect(run.stderr).toBe(
      `pcap: ${/(\d+) packets/.exec(run.stderr)?.[1] ?? '?'} packets written to ${file} ` +
        `(read it with: tshark -r ${file} -d tcp.port==${served.port},iscsi)\n`,
    );
    const bytes = await readFile(file);
    expect(bytes.readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(bytes.length).toBeGreaterThan(1000);
  });

  it('refuses a capture file it cannot create (exit 5)', async () => {
    const run = await iser(['readcap', '--pcap', join(dir, 'no', 'such', 'dir.pcapng'), served.url(0)]);
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/^iser: cannot write the capture .*ENOENT/);
  });

  it.skipIf(missing('tshark', 'apt-get install tshark'))('is dissected by tshark as iSCSI', async () => {
    const file = join(dir, 'ls.pcapng');
    const run = await iser(['ls', '--pcap', file, served.portalUrl]);
    expect(run.code).toBe(0);
    const tshark = await runTool('tshark', ['-r', file, '-d', `tcp.port==${served.port},iscsi`, '-Y', 'iscsi'], {
      timeoutMs: 60_000,
    });
    expect(tshark.exitCode).toBe(0);
    expect(tshark.stdout).toContain('Login Command');
    expect(tshark.stdout).toContain('Text Command');
    expect(tshark.stdout).toMatch(/SCSI: Inquiry LUN: 0x00/);
    expect(tshark.stdout).toContain('Logout Command');
    expect(tshark.stdout).not.toContain('Malformed');
  });
});
