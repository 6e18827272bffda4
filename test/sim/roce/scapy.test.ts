/**
 * scapy as an independent ICRC oracle (DESIGN.md §5): we synthesize RoCEv2 IPv4 datagrams, scapy's
 * `BTH.compute_icrc` recomputes each ICRC, and both must agree; a corrupted packet must fail both ways.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { decodeRoceIpDatagram, encodeRoceIpDatagram, type RoceUdpAddressing } from '../../../sim/roce/frame.js';
import { gsiPacket } from '../../../sim/roce/gsi.js';
import { computeIcrc, readIcrc } from '../../../sim/roce/icrc.js';
import { RoceOpcode } from '../../../sim/roce/opcodes.js';
import type { RocePacket } from '../../../sim/roce/packet.js';
import { runWithTimeout } from './run-with-timeout.js';
import { SCAPY_MISSING, SCAPY_PYTHON } from './scapy-python.js';

const PYTHON = SCAPY_PYTHON;
const SKIP = SCAPY_MISSING;

// Reads hex IPv4 datagrams, one per line; prints "<scapy icrc hex> <wire icrc hex>" for each.
const SCRIPT = `
import sys, binascii
from scapy.layers.inet import IP
from scapy.contrib.roce import BTH
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    pkt = IP(binascii.unhexlify(line))
    computed = pkt[BTH].compute_icrc(None)
    print(binascii.hexlify(computed).decode(), line[-8:])
`;

const bth = {
  solicited: false,
  migReq: false,
  padCount: 0,
  tver: 0,
  pkey: 0xffff,
  fecn: false,
  becn: false,
  destQp: 0x000011,
  ackReq: true,
  psn: 0x0a0b0c,
};
const ack = (syndrome: NonNullable<RocePacket['aeth']>['syndrome'], psn: number): RocePacket => ({
  bth: { ...bth, opcode: RoceOpcode.RC_ACKNOWLEDGE, ackReq: false, destQp: 0x12, psn },
  aeth: { syndrome, msn: 3 },
  payload: Buffer.alloc(0),
});
const mad = encodeCmMad({
  tid: 0x42n,
  message: { kind: 'RTU', localCommId: 0x11223344, remoteCommId: 0x55667788, privateData: Buffer.alloc(0) },
});

const CASES: readonly (readonly [string, RocePacket])[] = [
  [
    'SEND_ONLY, no pad',
    { bth: { ...bth, opcode: RoceOpcode.RC_SEND_ONLY }, payload: Buffer.from('iSER login.').subarray(0, 8) },
  ],
  [
    'SEND_ONLY, 3 pad bytes',
    { bth: { ...bth, opcode: RoceOpcode.RC_SEND_ONLY, solicited: true }, payload: Buffer.from('a') },
  ],
  [
    'RDMA_WRITE_FIRST',
    {
      bth: { ...bth, opcode: RoceOpcode.RC_RDMA_WRITE_FIRST, ackReq: false },
      reth: { va: 0x7f00_1234_5000n, rkey: 0x1234, length: 2048 },
      payload: Buffer.alloc(1024, 0x5a),
    },
  ],
  [
    'RDMA_WRITE_ONLY, 13 bytes + 3 pad',
    {
      bth: { ...bth, opcode: RoceOpcode.RC_RDMA_WRITE_ONLY },
      reth: { va: 0x1000n, rkey: 0xabcdef01, length: 13 },
      payload: Buffer.from('thirteen byte'),
    },
  ],
  [
    'RDMA_READ_REQUEST',
    {
      bth: { ...bth, opcode: RoceOpcode.RC_RDMA_READ_REQUEST },
      reth: { va: 0x2000n, rkey: 7, length: 512 },
      payload: Buffer.alloc(0),
    },
  ],
  [
    'RDMA_READ_RESPONSE_ONLY',
    {
      bth: { ...bth, opcode: RoceOpcode.RC_RDMA_READ_RESPONSE_ONLY, destQp: 0x12 },
      aeth: { syndrome: { kind: 'ack', credits: 0x1f }, msn: 1 },
      payload: Buffer.alloc(510, 0xc3),
    },
  ],
  ['ACK', ack({ kind: 'ack', credits: 0x1f }, 0x0a0b0c)],
  ['NAK PSN sequence error', ack({ kind: 'nak', code: 0 }, 0x0a0b0d)],
  ['RNR NAK', ack({ kind: 'rnr-nak', timer: 14 }, 0x0a0b0c)],
  ['NAK remote access error', ack({ kind: 'nak', code: 2 }, 0x0a0b0c)],
  ['UD CM MAD (RTU) on QP1', gsiPacket(mad, { psn: 0x000100 })],
];

const ADDRESSING: RoceUdpAddressing = { ip: { version: 4, src: '127.0.0.1', dst: '127.0.0.2' }, srcPort: 0xc0a1 };
const WITH_KERNEL_ID: RoceUdpAddressing = {
  ip: { version: 4, src: '127.0.0.1', dst: '127.0.0.2', id: 0x34ec, ttl: 1, tos: 0x02 },
  srcPort: 50010,
};

describe.skipIf(SKIP !== undefined)('ICRC: scapy agrees', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-scapy-'));
    await writeFile(join(dir, 'icrc.py'), SCRIPT);
  });
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  async function scapyIcrcs(datagrams: readonly Buffer[]): Promise<(readonly [string, string])[]> {
    const input = join(dir, `packets-${datagrams.length}-${Date.now()}.hex`);
    await writeFile(input, datagrams.map((d) => d.toString('hex')).join('\n') + '\n');
    const out = await runWithTimeout(PYTHON ?? 'python3', [join(dir, 'icrc.py'), input], 60_000);
    return out
      .trim()
      .split('\n')
      .map((line) => {
        const [computed = '', wire = ''] = line.split(' ');
        return [computed, wire] as const;
      });
  }

  it('on SEND, WRITE, READ, ACK, NAK, RNR NAK and a CM MAD, with ID 0 and with a kernel-chosen ID', async () => {
    const datagrams = [
      ...CASES.map(([, pkt]) => encodeRoceIpDatagram(pkt, ADDRESSING)),
      ...CASES.map(([, pkt]) => encodeRoceIpDatagram(pkt, WITH_KERNEL_ID)),
    ];
    const results = await scapyIcrcs(datagrams);
    expect(results.length).toBe(datagrams.length);
    results.forEach(([computed, wire], i) => {
      const name = CASES[i % CASES.length]?.[0] ?? '?';
      expect({ name, computed }).toEqual({ name, computed: wire });
    });
  });

  it('on a one-bit corruption: our check fails, scapy mismatches the wire, and both compute the same new CRC', async () => {
    const good = encodeRoceIpDatagram(CASES[3]![1], ADDRESSING);
    const bad = Buffer.from(good);
    bad[28 + 12 + 16 + 2] = (bad[28 + 12 + 16 + 2] ?? 0) ^ 0x08; // one bit of the WRITE payload
    expect(decodeRoceIpDatagram(bad, 'tx-only').icrcOk).toBe(false);
    expect(() => decodeRoceIpDatagram(bad, 'strict')).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_ICRC_MISMATCH' }),
    );
    const [[computed, wire] = ['', '']] = await scapyIcrcs([bad]);
    expect(computed).not.toBe(wire);
    const ours = Buffer.alloc(4);
    ours.writeUInt32LE(computeIcrc(bad.subarray(0, 20), bad.subarray(20, 28), bad.subarray(28, bad.length - 4)));
    expect(computed).toBe(ours.toString('hex'));
    expect(wire).toBe(Buffer.from(bad.subarray(bad.length - 4)).toString('hex'));
    expect(readIcrc(good, good.length - 4)).toBe(readIcrc(bad, bad.length - 4));
  });
});
