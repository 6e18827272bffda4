/**
 * A soft-RoCE session captured on the link and checked by independent tools: tshark dissects the IB CM
 * handshake (REQ/REP/RTU with rdma_cm's IP header and the iSER CM header), the RC traffic (SEND, WRITE,
 * READ, ACKs) and the disconnect (DREQ/DREP); scapy recomputes every packet's ICRC.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qpSourcePort, rcSourcePort } from '../../../../sim/roce/provider/source-port.js';
import { SoftRoceConnection } from '../../../../sim/roce/provider/connection.js';
import { field, fields, runTshark, type TsharkPacket } from '../../../support/tshark.js';
import { missing } from '../../../support/tools.js';
import { runWithTimeout } from '../run-with-timeout.js';
import { SCAPY_MISSING, SCAPY_PYTHON } from '../scapy-python.js';
import { makeMemoryEnv } from './memory-env.js';
import { connect, runSession } from './session.js';

interface Captured {
  readonly dir: string;
  readonly path: string;
  readonly client: SoftRoceConnection;
  readonly server: SoftRoceConnection;
  readonly frames: number;
}

async function captureSession(): Promise<Captured> {
  const env = await makeMemoryEnv({ seed: 3 });
  const pair = await connect(env, 3260);
  await runSession(env, pair);
  await env.dispose();
  const dir = await mkdtemp(join(tmpdir(), 'iser-softroce-'));
  const path = join(dir, 'session.pcapng');
  await writeFile(path, env.tap.toBuffer());
  const { client, server } = pair;
  if (!(client instanceof SoftRoceConnection) || !(server instanceof SoftRoceConnection)) {
    throw new Error('soft-RoCE providers give SoftRoceConnections');
  }
  return { dir, path, client, server, frames: env.tap.packetCount };
}

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

describe.skipIf(missing('tshark', 'apt-get install tshark'))('tshark dissects a soft-RoCE session', () => {
  let captured: Captured;
  let packets: TsharkPacket[];
  beforeAll(async () => {
    captured = await captureSession();
    packets = await runTshark(captured.path, { extraArgs: ['-x'] });
  });
  afterAll(async () => {
    await rm(captured.dir, { recursive: true, force: true });
  });

  const info = (p: TsharkPacket): string => {
    const mad = field(p, 'infiniband.mad.attributeid');
    return mad !== undefined ? `CM ${mad}` : (field(p, 'infiniband.bth.opcode') ?? '?');
  };

  it('reads the whole session: CM handshake, SEND, WRITE, READ, ACKs, disconnect', () => {
    expect(packets.length).toBe(captured.frames);
    expect(packets.map(info)).toEqual([
      'CM 0x0010', // REQ
      'CM 0x0013', // REP
      'CM 0x0014', // RTU
      '4', // SEND ONLY
      '17', // ACK
      '6', // WRITE FIRST
      '7', // WRITE MIDDLE
      '8', // WRITE LAST
      '12', // READ REQUEST
      '17', // ACK of the WRITE
      '13', // READ RESPONSE FIRST
      '14', // READ RESPONSE MIDDLE
      '15', // READ RESPONSE LAST
      'CM 0x0015', // DREQ
      'CM 0x0016', // DREP
    ]);
    for (const p of packets) {
      expect(fields(p, 'frame.protocols')[0]).toMatch(/^eth:ethertype:ip:udp:infiniband/);
      expect(field(p, 'udp.dstport')).toBe('4791');
      expect(field(p, 'ip.id')).toBe('0x0000');
      expect(field(p, 'ip.flags.df')).toBe('1');
    }
  });

  it('the CM REQ is rdma_cm’s: service ID of port 3260, IP header, iSER CM header, our QPN and PSN', () => {
    const [req, rep, rtu] = packets;
    const { client, server } = captured;
    expect(field(req!, 'udp.srcport')).toBe(String(qpSourcePort(1)));
    expect(field(req!, 'infiniband.bth.destqp')).toBe('0x000001');
    expect(field(req!, 'infiniband.deth.q_key')).toBe('0x0000000080010000');
    expect(field(req!, 'infiniband.cm.req.serviceid')).toBe('0x0000000001060cbc');
    expect(field(req!, 'infiniband.cm.req.localqpn')).toBe(hex(client.qpn, 6));
    // Linux ib_cm: each side's Starting PSN is the one it expects to receive (kernel rxe NAKs anything else).
    expect(field(req!, 'infiniband.cm.req.startpsn')).toBe(hex(client.attributes.rqPsn, 6));
    expect(client.attributes.rqPsn).toBe(server.attributes.sqPsn);
    expect(field(req!, 'infiniband.cm.req.pppmtu')).toBe('0x03');
    expect(field(req!, 'infiniband.cm.req.prim_localgid_ipv4')).toBe('10.0.0.1');
    expect(field(req!, 'infiniband.cm.req.prim_remotegid_ipv4')).toBe('10.0.0.2');
    expect(field(req!, 'infiniband.cm.req.ip_cm.ipv')).toBe('0x04');
    expect(field(req!, 'infiniband.cm.req.ip_cm.sip4')).toBe('10.0.0.1');
    expect(field(req!, 'infiniband.cm.req.ip_cm.dip4')).toBe('10.0.0.2');
    expect(field(req!, 'infiniband.cm.req.ip_cm.sport')).toBe(hex(client.local.port, 4));
    expect(field(req!, 'infiniband.cm.req.ip_cm.private')).toMatch(/^c0:00:00:00(:00)*$/);
    // REP and RTU carry the REQ's transaction ID and the comm IDs cross over.
    expect(field(rep!, 'infiniband.mad.transactionid')).toBe(field(req!, 'infiniband.mad.transactionid'));
    expect(field(rtu!, 'infiniband.mad.transactionid')).toBe(field(req!, 'infiniband.mad.transactionid'));
    expect(field(rep!, 'infiniband.cm.rep.remotecommid')).toBe(field(req!, 'infiniband.cm.req'));
    expect(field(rep!, 'infiniband.cm.rep.localqpn')).toBe(hex(server.qpn, 6));
    expect(field(rep!, 'infiniband.cm.rep.startpsn')).toBe(hex(server.attributes.rqPsn, 6));
    expect(server.attributes.rqPsn).toBe(client.attributes.sqPsn);
    expect(field(rep!, 'infiniband.cm.rep.private')).toMatch(/^c0:00:00:00(:00)*$/);
    expect(field(rtu!, 'infiniband.cm.rtu.localcommid')).toBe(field(req!, 'infiniband.cm.req'));
    expect(field(rtu!, 'infiniband.cm.rtu.remotecommid')).toBe(field(rep!, 'infiniband.cm.rep'));
  });

  it('RC packets: PSNs from the CM, AckReq on last packets, ACKs and READ responses with the request PSN', () => {
    const { client, server } = captured;
    const rc = packets.slice(3, 13);
    const fromClient = rc.filter((p) => field(p, 'ip.src') === '10.0.0.1');
    const fromServer = rc.filter((p) => field(p, 'ip.src') === '10.0.0.2');
    const psn0 = client.attributes.sqPsn;
    expect(fromClient.map((p) => Number(field(p, 'infiniband.bth.psn')))).toEqual(
      [0, 1, 2, 3, 4].map((i) => (psn0 + i) & 0xffffff),
    );
    expect(fromClient.map((p) => field(p, 'infiniband.bth.a'))).toEqual(['1', '0', '0', '1', '1']);
    expect(fromClient.every((p) => field(p, 'infiniband.bth.destqp') === hex(server.qpn, 6))).toBe(true);
    expect(fromClient.every((p) => field(p, 'udp.srcport') === String(rcSourcePort(client.qpn, server.qpn)))).toBe(
      true,
    );
    expect(field(fromClient[1]!, 'infiniband.reth.dmalen')).toBe('2500');
    expect(field(fromClient[2]!, 'infiniband.bth.padcnt')).toBe('0');
    expect(field(fromClient[4]!, 'infiniband.reth.dmalen')).toBe('3000');
    // ACK of the SEND and of the WRITE's last packet; READ responses take the READ request's PSNs.
    expect(fromServer.map((p) => Number(field(p, 'infiniband.bth.psn')))).toEqual(
      [0, 3, 4, 5, 6].map((i) => (psn0 + i) & 0xffffff),
    );
    expect(fromServer.map((p) => field(p, 'infiniband.aeth.msn'))).toEqual(['1', '2', '3', undefined, '3']);
  });

  it('the invariant CRC tshark shows is the last 4 bytes of every frame', () => {
    for (const p of packets) {
      const raw = field(p, 'frame_raw') ?? '';
      expect(raw.length).toBeGreaterThan(8);
      expect(field(p, 'infiniband.invariant.crc')).toBe(`0x${raw.slice(-8)}`);
    }
  });
});

describe.skipIf(SCAPY_MISSING !== undefined)('scapy checks the ICRC of every packet of a soft-RoCE session', () => {
  it('agrees on all of them', async () => {
    const captured = await captureSession();
    try {
      const script = join(captured.dir, 'icrc.py');
      await writeFile(
        script,
        [
          'import sys, binascii',
          'from scapy.utils import rdpcap',
          'from scapy.contrib.roce import BTH',
          'for p in rdpcap(sys.argv[1]):',
          '    print(binascii.hexlify(p[BTH].compute_icrc(None)).decode(), binascii.hexlify(bytes(p)[-4:]).decode())',
          '',
        ].join('\n'),
      );
      const out = await runWithTimeout(SCAPY_PYTHON ?? 'python3', [script, captured.path], 60_000);
      const lines = out.trim().split('\n');
      expect(lines.length).toBe(captured.frames);
      for (const line of lines) {
        const [computed, wire] = line.split(' ');
        expect(computed).toMatch(/^[0-9a-f]{8}$/);
        expect(computed).toBe(wire);
      }
    } finally {
      await rm(captured.dir, { recursive: true, force: true });
    }
  });
});
