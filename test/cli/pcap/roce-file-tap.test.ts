/**
 * The soft-RoCE --pcap tap: each datagram becomes one Ethernet/IPv4/UDP frame in the streamed pcapng file, stamped
 * with the link's clock, and a port other than 4791 puts the RRoCE preference into the tshark hint.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapngFile } from '../../../cli/pcap/pcapng-file.js';
import { PcapngFileTap } from '../../../cli/pcap/roce-file-tap.js';
import { roceDatagramFrame } from '../../../sim/roce/link/pcap-tap.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iser-roce-tap-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const datagram = (dstPort: number) => ({
  srcIp: '127.0.0.1',
  srcPort: 49152,
  dstIp: '127.0.0.2',
  dstPort,
  payload: Buffer.from('0badc0de0123456789abcdef', 'hex'),
});

describe('PcapngFileTap', () => {
  it('writes one frame per datagram, as rxe frames it, and no hint on port 4791', async () => {
    const path = join(dir, 'a.pcapng');
    const file = await PcapngFile.create(path, 'test');
    const tap = new PcapngFileTap({ now: () => 1.5 }, file);
    tap.record(datagram(4791));
    tap.record(datagram(4791));
    await file.close();
    expect(file.packets).toBe(2);
    expect(file.tsharkHint).toBe(`tshark -r ${path}`);
    const bytes = await readFile(path);
    const frame = roceDatagramFrame(datagram(4791));
    expect(bytes.indexOf(frame)).toBeGreaterThan(0);
    expect(bytes.indexOf(frame, bytes.indexOf(frame) + 1)).toBeGreaterThan(0);
  });

  it('names a port other than 4791 in the tshark hint', async () => {
    const path = join(dir, 'b.pcapng');
    const file = await PcapngFile.create(path, 'test');
    new PcapngFileTap({ now: () => 0 }, file).record(datagram(40001));
    await file.close();
    expect(file.tsharkHint).toBe(`tshark -r ${path} -o infiniband.rroce.port:40001`);
  });
});
