/**
 * scapy (Debian python3-scapy, scapy.contrib.roce) checks the ICRC of every packet of a whole iSER session over
 * soft-RoCE (test/support/roce-session-capture): CM MADs, SENDs, RDMA WRITEs and READs, ACKs, the NAK and the
 * RNR NAK, packets with pad bytes among them. Then one captured packet with a bit flipped goes straight to our
 * receiver: it is dropped (ICRC counter, no completion, no reply) and the untouched original is accepted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoceOpcode } from '../../../sim/roce/opcodes.js';
import { captureIserSession, type IserSessionCapture } from '../../support/roce-session-capture.js';
import { runWithTimeout } from './run-with-timeout.js';
import { SCAPY_MISSING, SCAPY_PYTHON } from './scapy-python.js';

// argv: a pcapng, a file of hex Ethernet frames (may be empty), a frame number whose UDP payload to print.
// Prints one JSON object per line: every RoCE frame of the capture, then every extra frame.
const SCRIPT = `
import sys, json, binascii
from scapy.all import rdpcap, Ether, UDP
from scapy.contrib.roce import BTH

def check(n, pkt, source):
    bth = pkt[BTH]
    udp = bytes(pkt[UDP].payload)
    computed = bth.compute_icrc(None)
    out = {"source": source, "frame": n, "opcode": bth.opcode, "pad": bth.padcount, "psn": bth.psn,
           "computed": binascii.hexlify(computed).decode(), "wire": binascii.hexlify(udp[-4:]).decode()}
    if source == "capture" and n == int(sys.argv[3]):
        out["udp"] = binascii.hexlify(udp).decode()
    print(json.dumps(out))

for n, pkt in enumerate(rdpcap(sys.argv[1]), 1):
    if UDP in pkt and pkt[UDP].dport == 4791:
        check(n, pkt, "capture")
for n, line in enumerate(open(sys.argv[2]), 1):
    line = line.strip()
    if line:
        check(n, Ether(binascii.unhexlify(line)), "extra")
`;

interface ScapyLine {
  readonly source: 'capture' | 'extra';
  readonly frame: number;
  readonly opcode: number;
  readonly pad: number;
  readonly psn: number;
  readonly computed: string;
  readonly wire: string;
  readonly udp?: string;
}

/** Ethernet 14 + IPv4 20 + UDP 8: where the RoCE packet starts in a captured frame. */
const UDP_PAYLOAD_OFFSET = 42;

describe.skipIf(SCAPY_MISSING !== undefined)('scapy checks every ICRC of a whole iSER session over soft-RoCE', () => {
  let capture: IserSessionCapture;
  let dir = '';
  let lines: ScapyLine[] = [];

  beforeAll(async () => {
    capture = await captureIserSession();
    dir = await mkdtemp(join(tmpdir(), 'iser-session-scapy-'));
    const pcap = join(dir, 'iser-session.pcapng');
    const extra = join(dir, 'extra.hex');
    const script = join(dir, 'icrc.py');
    await writeFile(pcap, capture.pcap);
    await writeFile(script, SCRIPT);
    // The corrupted packet, framed as the tap frames the original: the same Ethernet/IP/UDP headers.
    const frame = capturedFrame(capture.pcap, capture.corruption.frame);
    const corrupted = Buffer.concat([frame.subarray(0, UDP_PAYLOAD_OFFSET), capture.corruption.corrupted]);
    await writeFile(extra, `${corrupted.toString('hex')}\n`);
    const out = await runWithTimeout(
      SCAPY_PYTHON ?? 'python3',
      [script, pcap, extra, String(capture.corruption.frame)],
      60_000,
    );
    lines = out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ScapyLine);
  }, 120_000);
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('agrees on the ICRC of every packet, pad bytes or not', () => {
    const captured = lines.filter((l) => l.source === 'capture');
    expect(captured.length).toBe(capture.frames);
    const wrong = captured.filter((l) => l.computed !== l.wire).map((l) => l.frame);
    expect(wrong).toEqual([]);
    const padded = captured.filter((l) => l.pad > 0);
    const pads = new Set(padded.map((l) => l.pad));
    // Login text, the odd first burst and its RDMA READ rest (2 pad bytes), INQUIRY's 37 bytes (3).
    expect(padded.length).toBeGreaterThanOrEqual(4);
    expect(pads.has(2) && pads.has(3)).toBe(true);
    const opcodes = new Set(captured.map((l) => l.opcode));
    for (const op of [
      RoceOpcode.UD_SEND_ONLY,
      RoceOpcode.RC_SEND_FIRST,
      RoceOpcode.RC_SEND_MIDDLE,
      RoceOpcode.RC_SEND_LAST,
      RoceOpcode.RC_SEND_ONLY,
      RoceOpcode.RC_SEND_ONLY_WITH_INVALIDATE,
      RoceOpcode.RC_RDMA_WRITE_FIRST,
      RoceOpcode.RC_RDMA_WRITE_ONLY,
      RoceOpcode.RC_RDMA_READ_REQUEST,
      RoceOpcode.RC_RDMA_READ_RESPONSE_LAST,
      RoceOpcode.RC_ACKNOWLEDGE,
    ]) {
      expect({ op, checked: opcodes.has(op) }).toEqual({ op, checked: true });
    }
    console.log(
      `scapy: ${captured.length} ICRCs checked, all agree; ${padded.length} packets with pad bytes (frames ${padded
        .map((l) => `${l.frame}:${l.pad}`)
        .join(' ')})`,
    );
  });

  it('the packet fed to our receiver is the captured one; with a bit flipped, scapy disagrees with its ICRC', () => {
    const { corruption } = capture;
    const original = lines.find((l) => l.source === 'capture' && l.frame === corruption.frame);
    expect(original?.udp).toBe(corruption.original.toString('hex'));
    expect(original?.opcode).toBe(RoceOpcode.RC_SEND_ONLY);
    expect(original?.pad).toBe(3); // 13 bytes
    const flipped = corruption.original.map((byte, i) => byte ^ corruption.corrupted[i]!);
    expect([...flipped].filter((b) => b !== 0)).toEqual([0x80 >> (corruption.bit & 7)]);
    const extra = lines.find((l) => l.source === 'extra');
    expect(extra?.wire).toBe(original?.wire);
    expect(extra?.computed).not.toBe(extra?.wire);
  });

  it('our receiver drops the corrupted copy (ICRC counter, no completion, no reply) and accepts the original', () => {
    const c = capture.corruption;
    expect(c.afterCorrupted.icrcDrops).toBe(c.before.icrcDrops + 1);
    expect(c.afterCorrupted.received.packets).toBe(c.before.received.packets);
    expect(c.completionsAfterCorrupted).toBe(0);
    expect(c.repliesAfterCorrupted).toBe(0);
    expect(c.afterOriginal.icrcDrops).toBe(c.afterCorrupted.icrcDrops);
    expect(c.afterOriginal.received.byOpcode.RC_SEND_ONLY?.packets).toBe(
      (c.before.received.byOpcode.RC_SEND_ONLY?.packets ?? 0) + 1,
    );
    expect(c.completionAfterOriginal).toMatchObject({ status: 'SUCCESS', opcode: 'RECV', byteLen: c.sent.length });
    expect(c.received.equals(c.sent)).toBe(true);
    // Nothing else in the whole run failed an ICRC check.
    expect(capture.targetCounters.icrcDrops + capture.initiatorCounters.icrcDrops).toBe(1);
  });
});

/** The bytes of frame `n` (1-based) of a pcapng file: Enhanced Packet Blocks only, little-endian as we write. */
function capturedFrame(pcap: Buffer, n: number): Buffer {
  let offset = 0;
  let seen = 0;
  for (let blocks = 0; offset + 12 <= pcap.length && blocks < 1_000_000; blocks++) {
    const type = pcap.readUInt32LE(offset);
    const length = pcap.readUInt32LE(offset + 4);
    if (length < 12) break;
    if (type === 6 && ++seen === n) {
      const captured = pcap.readUInt32LE(offset + 20);
      return pcap.subarray(offset + 28, offset + 28 + captured);
    }
    offset += length;
  }
  throw new Error(`no frame ${n} in the capture`);
}
