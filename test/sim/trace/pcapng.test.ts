import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4Bytes, ipv6Bytes, macBytes } from '../../../sim/trace/addresses.js';
import { internetChecksum } from '../../../sim/trace/checksum.js';
import { TraceError } from '../../../sim/trace/errors.js';
import { ipHeader, IPPROTO_UDP, pseudoHeaderSum } from '../../../sim/trace/ip.js';
import { msToTicks, PcapngWriter, type CapturedFrame } from '../../../sim/trace/pcapng.js';
import { ROCE_V2_UDP_PORT, roceV2Frame } from '../../../sim/trace/roce-frame.js';
import { TcpStreamSynth } from '../../../sim/trace/tcp-stream.js';
import { tcpFrame } from '../../../sim/trace/tcp.js';
import { udpFrame } from '../../../sim/trace/udp.js';
import {
  CHECK_CHECKSUMS,
  CHECKSUM_GOOD,
  CHECKSUM_NOT_PRESENT,
  DECODE_ISCSI_3260,
  field,
  fields,
  has,
  layers,
  runTsharkOnBuffer,
} from '../../support/tshark.js';
import { missing } from '../../support/tools.js';

/** An iSCSI Login Request PDU (BHS + key=value data + pad), enough for tshark's iSCSI dissector. */
function loginRequest(keys: readonly string[]): Buffer[] {
  const data = Buffer.from(keys.map((k) => `${k}\0`).join(''));
  const bhs = Buffer.alloc(48);
  bhs[0] = 0x43; // immediate + Login Request
  bhs[1] = 0x87; // T, CSG=1, NSG=3
  bhs.writeUIntBE(data.length, 5, 3);
  bhs.writeUInt32BE(1, 16); // ITT
  bhs.writeUInt32BE(1, 24); // CmdSN
  return [bhs, data, Buffer.alloc((4 - (data.length % 4)) % 4)];
}

function parseTcp(frame: Buffer): { seq: number; ack: number; flags: number; payload: Buffer } {
  const tcp = 14 + 20;
  const dataOffset = (frame[tcp + 12]! >> 4) * 4;
  return {
    seq: frame.readUInt32BE(tcp + 4),
    ack: frame.readUInt32BE(tcp + 8),
    flags: frame[tcp + 13]!,
    payload: frame.subarray(tcp + dataOffset),
  };
}

describe('byte layouts', () => {
  it('computes the textbook IPv4 header checksum (0xb861)', () => {
    const header = ipHeader(
      { version: 4, src: '192.168.0.1', dst: '192.168.0.199', id: 0, df: true },
      IPPROTO_UDP,
      0x73 - 20,
    );
    expect(header.toString('hex')).toBe('45000073000040004011b861c0a80001c0a800c7');
  });

  it('gives the same checksum however the bytes are split into chunks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 6 }), (bytes, cuts) => {
        const whole = Buffer.from(bytes);
        const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((x, y) => x - y);
        const chunks = [0, ...points].map((start, i) => whole.subarray(start, points[i] ?? whole.length));
        expect(internetChecksum(chunks)).toBe(internetChecksum([whole]));
      }),
      { numRuns: 200 },
    );
  });

  it('writes UDP checksums that verify (sum over pseudo-header and datagram is 0xffff)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, v6) => {
        const ip = v6
          ? ({ version: 6, src: 'fd00::1', dst: 'fd00::2' } as const)
          : ({ version: 4, src: '10.0.0.1', dst: '10.0.0.2' } as const);
        const frame = udpFrame({ ip, srcPort: 1234, dstPort: 5678 }, Buffer.from(bytes));
        const udp = frame.subarray(14 + (v6 ? 40 : 20));
        expect(internetChecksum([udp], pseudoHeaderSum(ip, IPPROTO_UDP, udp.length))).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('lays out a TCP SYN with an MSS option and flags where RFC 793 puts them', () => {
    const frame = tcpFrame({
      ip: { version: 4, src: '10.0.0.1', dst: '10.0.0.2', id: 0x1234, df: false, ttl: 1 },
      srcPort: 40000,
      dstPort: 3260,
      seq: 0xfffffffe,
      ack: 0,
      flags: { syn: true },
      window: 1000,
      mss: 1460,
    });
    const tcp = frame.subarray(34);
    expect(frame.readUInt16BE(14 + 4)).toBe(0x1234);
    expect(frame.readUInt16BE(14 + 6)).toBe(0); // no DF
    expect(frame[14 + 8]).toBe(1); // TTL
    expect(tcp.readUInt32BE(4)).toBe(0xfffffffe);
    expect(tcp[12]).toBe(6 << 4); // 24-byte header
    expect(tcp[13]).toBe(0x02);
    expect(tcp.readUInt16BE(14)).toBe(1000);
    expect(tcp.subarray(20).toString('hex')).toBe('020405b4');
    expect(() =>
      tcpFrame({
        ip: { version: 4, src: '10.0.0.1', dst: '10.0.0.2' },
        srcPort: 70000,
        dstPort: 1,
        seq: 0,
        ack: 0,
        flags: {},
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_TRACE_FIELD_RANGE' }));
  });

  it('lays out a RoCEv2 frame with IP ID 0, DF, UDP dport 4791 and a zero UDP checksum', () => {
    const frame = roceV2Frame(
      { ip: { version: 4, src: '127.0.0.1', dst: '127.0.0.2' }, srcPort: 0xc0a1 },
      Buffer.alloc(16),
    );
    expect(frame.readUInt16BE(12)).toBe(0x0800);
    expect(frame.readUInt16BE(14 + 4)).toBe(0); // Identification
    expect(frame.readUInt16BE(14 + 6)).toBe(0x4000); // DF, offset 0
    expect(frame.readUInt16BE(34 + 2)).toBe(ROCE_V2_UDP_PORT);
    expect(frame.readUInt16BE(34 + 6)).toBe(0);
    expect(frame.length).toBe(14 + 20 + 8 + 16);
  });

  it('parses addresses and rejects bad ones with a typed error', () => {
    expect(ipv6Bytes('::1').toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipv6Bytes('fe80::1:2').toString('hex')).toBe('fe800000000000000000000000010002');
    expect(ipv6Bytes('::ffff:1.2.3.4').toString('hex')).toBe('00000000000000000000ffff01020304');
    expect(macBytes('02:00:00:00:00:0a').toString('hex')).toBe('02000000000a');
    for (const bad of [
      () => ipv4Bytes('1.2.3'),
      () => ipv4Bytes('1.2.3.256'),
      () => ipv6Bytes('1::2::3'),
      () => ipv6Bytes('1:2:3:4:5:6:7:8:9'),
      () => macBytes('zz:00:00:00:00:00'),
    ]) {
      expect(bad).toThrow(TraceError);
    }
  });

  it('writes pcapng blocks with the layout the format defines', () => {
    const w = new PcapngWriter();
    w.addPacket(Buffer.alloc(5, 0xaa), 12345.678901, { comment: 'c' });
    const file = w.toBuffer();
    expect(file.readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(file.readUInt32LE(8)).toBe(0x1a2b3c4d);
    // Walk the blocks: each length is a multiple of 4 and repeated at the block's end.
    const types: number[] = [];
    for (let off = 0; off < file.length;) {
      const len = file.readUInt32LE(off + 4);
      expect(len % 4).toBe(0);
      expect(file.readUInt32LE(off + len - 4)).toBe(len);
      types.push(file.readUInt32LE(off));
      if (file.readUInt32LE(off) === 6) {
        const ticks = (BigInt(file.readUInt32LE(off + 12)) << 32n) | BigInt(file.readUInt32LE(off + 16));
        expect(ticks).toBe(12_345_678_901n);
        expect(file.readUInt32LE(off + 20)).toBe(5);
      }
      off += len;
    }
    expect(types).toEqual([0x0a0d0d0a, 1, 6]);
    expect(w.packetCount).toBe(1);
  });

  it('converts virtual milliseconds to ticks and refuses impossible times', () => {
    expect(msToTicks(1.5)).toBe(1_500_000n);
    expect(msToTicks(1.5, 'us')).toBe(1_500n);
    expect(() => msToTicks(-1)).toThrow(TraceError);
    expect(() => msToTicks(Number.NaN)).toThrow(TraceError);
  });
});

describe('TcpStreamSynth', () => {
  it('keeps sequence and acknowledgement numbers consistent and reassembles to the bytes sent', () => {
    const send = fc.record({ ab: fc.boolean(), length: fc.nat(7000) });
    fc.assert(
      fc.property(fc.array(send, { maxLength: 12 }), fc.integer({ min: 1, max: 2000 }), fc.nat(), (sends, mss, isn) => {
        const synth = new TcpStreamSynth({
          a: { ip: '10.0.0.1', port: 40000, isn },
          b: { ip: '10.0.0.2', port: 3260 },
          mss,
        });
        const frames: CapturedFrame[] = synth.open(0);
        const sent = { a: [] as Buffer[], b: [] as Buffer[] };
        sends.forEach(({ ab, length }, i) => {
          const bytes = Buffer.alloc(length, i);
          sent[ab ? 'a' : 'b'].push(bytes);
          frames.push(...synth.send(ab ? 'a->b' : 'b->a', bytes, i));
        });
        frames.push(...synth.close(sends.length));
        const got = { a: [] as Buffer[], b: [] as Buffer[] };
        const next = { a: isn >>> 0, b: 0x8000 };
        for (const f of frames) {
          const from = f.data.readUInt16BE(34) === 40000 ? 'a' : 'b';
          const to = from === 'a' ? 'b' : 'a';
          const seg = parseTcp(f.data);
          expect(seg.payload.length).toBeLessThanOrEqual(mss);
          expect(seg.seq).toBe(next[from]);
          // Every ACK acknowledges exactly what the peer has sent so far (a lossless wire).
          if ((seg.flags & 0x10) !== 0) expect(seg.ack).toBe(next[to]);
          got[from].push(seg.payload);
          next[from] = (next[from] + seg.payload.length + (seg.flags & 0x03 ? 1 : 0)) >>> 0;
        }
        expect(Buffer.concat(got.a).equals(Buffer.concat(sent.a))).toBe(true);
        expect(Buffer.concat(got.b).equals(Buffer.concat(sent.b))).toBe(true);
        expect(synth.nextSeq('a')).toBe(next.a);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses to send after close', () => {
    const synth = new TcpStreamSynth({ a: { ip: '10.0.0.1', port: 1 }, b: { ip: '10.0.0.2', port: 2 } });
    synth.open(0);
    synth.close(1);
    expect(() => synth.send('a->b', Buffer.from('x'), 2)).toThrow(
      expect.objectContaining({ code: 'ERR_TRACE_STREAM_STATE' }),
    );
  });
});

describe.skipIf(missing('tshark', 'apt-get install tshark'))('tshark reads what we write', () => {
  const keys = [
    'InitiatorName=iqn.2024-01.org.example:init',
    'TargetName=iqn.2024-01.org.example:tgt',
    'SessionType=Normal',
    'HeaderDigest=None',
    'DataDigest=None',
  ];

  /** A capture with TCP over IPv4 and IPv6, UDP over both, and a RoCEv2 frame; and the times we wrote. */
  function capture(): { pcap: Buffer; timesMs: number[] } {
    const frames: CapturedFrame[] = [];
    const v4 = new TcpStreamSynth({
      a: { ip: '127.0.0.1', port: 40000 },
      b: { ip: '127.0.0.2', port: 3260 },
      mss: 1000,
    });
    frames.push(...v4.open(1));
    frames.push(...v4.send('a->b', loginRequest(keys), 2.25, 'login request'));
    frames.push(...v4.send('b->a', Buffer.alloc(70_000, 0x5a), 3.000001));
    frames.push(...v4.send('a->b', Buffer.alloc(3000, 0x11), 4));
    frames.push(...v4.close(5, 'b->a'));
    const v6 = new TcpStreamSynth({ a: { ip: '::1', port: 40001 }, b: { ip: 'fd00::2', port: 3260 } });
    frames.push(...v6.send('a->b', loginRequest(keys), 6));
    frames.push(...v6.close(7));
    frames.push({
      data: udpFrame(
        {
          ip: { version: 4, src: '127.0.0.1', dst: '127.0.0.2', id: 7, df: false, ttl: 3 },
          srcPort: 5000,
          dstPort: 5001,
        },
        Buffer.from('hello'),
      ),
      timeMs: 8,
    });
    frames.push({
      data: udpFrame({ ip: { version: 6, src: '::1', dst: '::1' }, srcPort: 5000, dstPort: 5001 }, [
        Buffer.from('hel'),
        Buffer.from('lo!'),
      ]),
      timeMs: 9,
    });
    const bth = Buffer.from('0400ffff00000012800a0b0c', 'hex');
    frames.push({
      data: roceV2Frame({ ip: { version: 4, src: '127.0.0.1', dst: '127.0.0.2' }, srcPort: 0xc0a1 }, [
        bth,
        // Zeros would be claimed (and called malformed) by Wireshark's RPC-over-RDMA heuristic.
        Buffer.from('a payload that no heuristic claims......'),
        Buffer.alloc(4), // ICRC (tshark does not check it)
      ]),
      timeMs: 12345.678901,
    });
    const w = new PcapngWriter();
    w.addFrames(frames);
    return { pcap: w.toBuffer(), timesMs: frames.map((f) => f.timeMs) };
  }

  it('parses every frame with good checksums, no TCP analysis flags, and our timestamps', async () => {
    const { pcap, timesMs } = capture();
    const packets = await runTsharkOnBuffer(pcap, { decodeAs: [DECODE_ISCSI_3260], prefs: CHECK_CHECKSUMS });
    expect(packets).toHaveLength(timesMs.length);
    packets.forEach((pkt, i) => {
      const where = `frame ${i + 1}`;
      expect(has(pkt, '_ws.malformed'), where).toBe(false);
      expect(has(pkt, 'tcp.analysis.flags'), where).toBe(false);
      const statuses = ['ip', 'tcp', 'udp'].flatMap((proto) => fields(pkt, `${proto}.checksum.status`));
      // The RoCEv2 frame's UDP checksum is zero, as rxe sends it: tshark has nothing to verify there.
      const roce = layers(pkt).includes('infiniband');
      expect(statuses.length, where).toBeGreaterThanOrEqual(roce || layers(pkt).includes('ipv6') ? 1 : 2);
      expect(
        statuses.filter((s) => s !== CHECKSUM_GOOD),
        where,
      ).toEqual(roce ? [CHECKSUM_NOT_PRESENT] : []);
      const ns = msToTicks(timesMs[i]!);
      const epoch = `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
      expect(field(pkt, 'frame.time_epoch'), where).toBe(epoch);
    });
    // Every packet got some checksum verified, so the status assertions above were not vacuous.
    expect(packets.filter((p) => fields(p, 'tcp.checksum.status').length > 0).length).toBeGreaterThan(50);
  });

  it('dissects the iSCSI login over IPv4 and IPv6, with every key, and keeps our comment', async () => {
    const packets = await runTsharkOnBuffer(capture().pcap, { decodeAs: [DECODE_ISCSI_3260], prefs: CHECK_CHECKSUMS });
    const logins = packets.filter((p) => layers(p).includes('iscsi'));
    expect(logins.map((p) => layers(p).includes('ipv6'))).toEqual([false, true]);
    for (const p of logins) {
      expect(field(p, 'iscsi.opcode')).toBe('0x03');
      expect(fields(p, 'iscsi.keyvalue')).toEqual(keys);
    }
    expect(fields(logins[0]!, 'frame.comment')).toEqual(['login request']);
  });

  it('sees the RoCEv2 frame as InfiniBand with IP ID 0 and DF set', async () => {
    const packets = await runTsharkOnBuffer(capture().pcap, { displayFilter: 'udp.dstport == 4791' });
    expect(packets).toHaveLength(1);
    const roce = packets[0]!;
    expect(layers(roce)).toContain('infiniband');
    expect(field(roce, 'ip.id')).toBe('0x0000');
    expect(field(roce, 'ip.flags.df')).toBe('1');
    expect(field(roce, 'infiniband.bth.destqp')).toBe('0x000012');
  });
});
