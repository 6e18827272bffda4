/**
 * scapy (Debian python3-scapy, scapy.contrib.roce) checks the ICRC of every packet of a whole iSER session over
 * soft-RoCE (test/support/roce-session-capture): CM MADs, SENDs, RDMA WRITEs and READs, ACKs, the NAK and the
 * RNR NAK, packets with pad bytes among them. Then two captured packets (the iSER Logout Request, a plain RC SEND)
 * with a bit flipped go straight to our receiver: each is dropped (ICRC counter, nothing received, no reply, no
 * completion, the logout not answered) and the untouched original is accepted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoceOpcode } from '../../../sim/roce/opcodes.js';
import {
  captureIserSession,
  type HeldPacketProbe,
  type IserSessionCapture,
} from '../../support/roce-session-capture.js';
import { runWithTimeout } from './run-with-timeout.js';
import { SCAPY_MISSING, SCAPY_PYTHON } from './scapy-python.js';

// argv: a pcapng, a file of hex Ethernet frames (may be empty), frame numbers (comma-separated) whose UDP payload
// to print.
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
    if source == "capture" and str(n) in sys.argv[3].split(","):
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
    // The corrupted packets, framed as the tap framed the originals: the same Ethernet/IP/UDP headers.
    const probes = [capture.iserCorruption, capture.corruption];
    const corrupted = probes.map((probe) =>
      Buffer.concat([capturedFrame(capture.pcap, probe.frame).subarray(0, UDP_PAYLOAD_OFFSET), probe.corrupted]),
    );
    await writeFile(extra, corrupted.map((f) => `${f.toString('hex')}\n`).join(''));
    const out = await runWithTimeout(
      SCAPY_PYTHON ?? 'python3',
      [script, pcap, extra, probes.map((probe) => probe.frame).join(',')],
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

  const probes = (): readonly (readonly [string, HeldPacketProbe])[] => [
    ['the iSER Logout Request', capture.iserCorruption],
    ['the plain RC SEND', capture.corruption],
  ];

  it('the packets fed to our receiver are captured ones; with a bit flipped, scapy disagrees with their ICRC', () => {
    const extras = lines.filter((l) => l.source === 'extra');
    expect(extras.length).toBe(2);
    probes().forEach(([what, probe], i) => {
      const original = lines.find((l) => l.source === 'capture' && l.frame === probe.frame);
      expect({ what, udp: original?.udp }).toEqual({ what, udp: probe.original.toString('hex') });
      expect(original?.opcode).toBe(RoceOpcode.RC_SEND_ONLY);
      const flipped = probe.original.map((byte, j) => byte ^ probe.corrupted[j]!);
      expect([...flipped].filter((b) => b !== 0)).toEqual([0x80 >> (probe.bit & 7)]);
      // The flipped bit is past the BTH (and the iSER header), where only the ICRC protects it.
      expect(probe.bit >> 3).toBeGreaterThanOrEqual(12);
      expect(extras[i]?.wire).toBe(original?.wire);
      expect(extras[i]?.computed).not.toBe(extras[i]?.wire);
    });
    expect(lines.find((l) => l.frame === capture.corruption.frame && l.source === 'capture')?.pad).toBe(3);
  });

  it('our receiver drops each corrupted copy (ICRC counter, nothing received, no reply) and accepts the original', () => {
    for (const [what, c] of probes()) {
      const look = {
        what,
        icrcDrops: c.afterCorrupted.icrcDrops - c.before.icrcDrops,
        received: c.afterCorrupted.received.packets - c.before.received.packets,
        replies: c.repliesAfterCorrupted,
        icrcDropsAfterOriginal: c.afterOriginal.icrcDrops - c.afterCorrupted.icrcDrops,
        sendsAfterOriginal:
          (c.afterOriginal.received.byOpcode.RC_SEND_ONLY?.packets ?? 0) -
          (c.before.received.byOpcode.RC_SEND_ONLY?.packets ?? 0),
      };
      expect(look).toEqual({
        what,
        icrcDrops: 1,
        received: 0,
        replies: 0,
        icrcDropsAfterOriginal: 0,
        sendsAfterOriginal: 1,
      });
    }
    // iSER: the target never saw the corrupted Logout Request, so the logout ended only after the intact one.
    expect(capture.iserCorruption.loggedOutAfterCorrupted).toBe(false);
    const rc = capture.corruption;
    expect(rc.completionsAfterCorrupted).toBe(0);
    expect(rc.completionAfterOriginal).toMatchObject({ status: 'SUCCESS', opcode: 'RECV', byteLen: rc.sent.length });
    expect(rc.received.equals(rc.sent)).toBe(true);
    // Nothing else in the whole run failed an ICRC check.
    expect(capture.targetCounters.icrcDrops + capture.initiatorCounters.icrcDrops).toBe(2);
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
