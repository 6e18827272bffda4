/**
 * tshark as an independent structure oracle for the RoCEv2 wire layer: a pcapng (Ethernet/IPv4/UDP 4791, IP ID 0,
 * DF) holding an IB CM REQ/REP/RTU handshake for service port 3260, an iSER Login over SEND_ONLY, RDMA WRITE /
 * READ, an ACK, and the three kinds of NAK, all encoded by sim/roce; tshark must dissect every field back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { PERMISSIVE_LID, type CmPath } from '../../../sim/roce/cm-path.js';
import type { CmRep } from '../../../sim/roce/cm-rep.js';
import type { CmReq } from '../../../sim/roce/cm-req.js';
import { encodeRdmaCmReqPrivateData, rdmaCmServiceId } from '../../../sim/roce/cma-header.js';
import { encodeRoceUdpPayload, type RoceIpv4, type RoceUdpAddressing } from '../../../sim/roce/frame.js';
import { gsiPacket } from '../../../sim/roce/gsi.js';
import { gidFromIp } from '../../../sim/roce/ip-address.js';
import { encodeIserCmHeader } from '../../../sim/roce/iser-cm-header.js';
import { RoceOpcode } from '../../../sim/roce/opcodes.js';
import type { RocePacket } from '../../../sim/roce/packet.js';
import { PcapngWriter } from '../../../sim/trace/pcapng.js';
import { roceV2Frame } from '../../../sim/trace/roce-frame.js';
import { field, fields, layers, runTshark, type TsharkPacket } from '../../support/tshark.js';
import { missing } from '../../support/tools.js';
import { runWithTimeout } from './run-with-timeout.js';

const INITIATOR = '10.0.0.1';
const TARGET = '10.0.0.2';
const INITIATOR_QPN = 0x000011;
const TARGET_QPN = 0x000012;
const INITIATOR_PSN = 0x0a0b0c;
const TARGET_PSN = 0x123456;
const TID = 0x0000_0001_0000_0abcn;

const ipv4 = (src: string, dst: string): RoceIpv4 => ({ version: 4, src, dst, id: 0, df: true });
const TO_TARGET: RoceUdpAddressing = { ip: ipv4(INITIATOR, TARGET), srcPort: 0xc011 };
const TO_INITIATOR: RoceUdpAddressing = { ip: ipv4(TARGET, INITIATOR), srcPort: 0xc012 };

const ISER_FLAGS = encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: true });

const PATH: CmPath = {
  localLid: PERMISSIVE_LID,
  remoteLid: PERMISSIVE_LID,
  localGid: gidFromIp(INITIATOR, 4),
  remoteGid: gidFromIp(TARGET, 4),
  flowLabel: 0,
  packetRate: 3,
  trafficClass: 0,
  hopLimit: 64,
  sl: 0,
  subnetLocal: false,
  localAckTimeout: 18,
};

const REQ: CmReq = {
  kind: 'REQ',
  localCommId: 0x1111_1111,
  vendorId: 0,
  serviceId: rdmaCmServiceId(3260),
  localCaGuid: 0x0200_00ff_fe00_0001n,
  localQkey: 0,
  localQpn: INITIATOR_QPN,
  responderResources: 16,
  localEecn: 0,
  initiatorDepth: 1,
  remoteEecn: 0,
  remoteCmResponseTimeout: 20,
  transportServiceType: 0,
  endToEndFlowControl: true,
  startingPsn: INITIATOR_PSN,
  localCmResponseTimeout: 20,
  retryCount: 6,
  pkey: 0xffff,
  pathMtu: 3,
  rdcExists: false,
  rnrRetryCount: 6,
  maxCmRetries: 15,
  srq: false,
  extendedTransportType: 0,
  primaryPath: PATH,
  sapSupported: false,
  privateData: encodeRdmaCmReqPrivateData(
    { ipVersion: 4, srcPort: 45678, srcAddr: INITIATOR, dstAddr: TARGET },
    ISER_FLAGS,
  ),
};

const REP: CmRep = {
  kind: 'REP',
  localCommId: 0x2222_2222,
  remoteCommId: REQ.localCommId,
  localQkey: 0,
  localQpn: TARGET_QPN,
  vendorId: 0,
  localEecn: 0,
  startingPsn: TARGET_PSN,
  responderResources: 0,
  initiatorDepth: 1,
  targetAckDelay: 15,
  failoverAccepted: 1,
  endToEndFlowControl: true,
  rnrRetryCount: 7,
  srq: false,
  localCaGuid: 0x0200_00ff_fe00_0002n,
  privateData: ISER_FLAGS,
};

const LOGIN_KEYS = [
  'InitiatorName=iqn.2024-01.org.example:init',
  'TargetName=iqn.2024-01.org.example:tgt',
  'SessionType=Normal',
  'RDMAExtensions=Yes',
  'InitiatorRecvDataSegmentLength=8192',
];

/** iSER header (control PDU, no STags) + iSCSI Login Request BHS (T, CSG 1, NSG 3) + key=value text, by hand. */
function iserLogin(): Buffer {
  const data = Buffer.from(LOGIN_KEYS.map((k) => `${k}\0`).join(''));
  const iser = Buffer.alloc(28);
  iser[0] = 0x10;
  const bhs = Buffer.alloc(48);
  bhs[0] = 0x43; // immediate + Login Request
  bhs[1] = 0x87; // T, CSG=1, NSG=3
  bhs.writeUIntBE(data.length, 5, 3);
  Buffer.from('400001370000', 'hex').copy(bhs, 8); // ISID
  bhs.writeUInt32BE(1, 16); // ITT
  bhs.writeUInt32BE(1, 24); // CmdSN
  // No pad: iSER carries no iSCSI padding or digests; the BTH PadCnt covers 4-byte alignment.
  return Buffer.concat([iser, bhs, data]);
}

const bth = (opcode: number, destQp: number, psn: number, ackReq: boolean): RocePacket['bth'] => ({
  opcode,
  solicited: false,
  migReq: false,
  padCount: 0,
  tver: 0,
  pkey: 0xffff,
  fecn: false,
  becn: false,
  destQp,
  ackReq,
  psn,
});
const aeth = (syndrome: NonNullable<RocePacket['aeth']>['syndrome'], msn: number): RocePacket['aeth'] => ({
  syndrome,
  msn,
});

const WRITE_RETH = { va: 0x7f00_1234_5000n, rkey: 0xabcd_1234, length: 13 };
const READ_RETH = { va: 0x7f00_1234_6000n, rkey: 0x0000_5678, length: 512 };

/** The capture, frame by frame (1-based numbers in comments). */
const FRAMES: readonly (readonly [RocePacket, RoceUdpAddressing])[] = [
  /* 1 */ [gsiPacket(encodeCmMad({ tid: TID, message: REQ }), { psn: 1 }), TO_TARGET],
  /* 2 */ [gsiPacket(encodeCmMad({ tid: TID, message: REP }), { psn: 2 }), TO_INITIATOR],
  /* 3 */ [
    gsiPacket(
      encodeCmMad({
        tid: TID,
        message: {
          kind: 'RTU',
          localCommId: REQ.localCommId,
          remoteCommId: REP.localCommId,
          privateData: Buffer.alloc(0),
        },
      }),
      { psn: 3 },
    ),
    TO_TARGET,
  ],
  /* 4 */ [{ bth: bth(RoceOpcode.RC_SEND_ONLY, TARGET_QPN, INITIATOR_PSN, true), payload: iserLogin() }, TO_TARGET],
  /* 5 */ [
    {
      bth: bth(RoceOpcode.RC_ACKNOWLEDGE, INITIATOR_QPN, INITIATOR_PSN, false),
      aeth: aeth({ kind: 'ack', credits: 0x1f }, 1),
      payload: Buffer.alloc(0),
    },
    TO_INITIATOR,
  ],
  /* 6 */ [
    {
      bth: bth(RoceOpcode.RC_RDMA_WRITE_ONLY, INITIATOR_QPN, TARGET_PSN, true),
      reth: WRITE_RETH,
      payload: Buffer.from('thirteen byte'),
    },
    TO_INITIATOR,
  ],
  /* 7 */ [
    {
      bth: bth(RoceOpcode.RC_RDMA_READ_REQUEST, INITIATOR_QPN, TARGET_PSN + 1, true),
      reth: READ_RETH,
      payload: Buffer.alloc(0),
    },
    TO_INITIATOR,
  ],
  /* 8 */ [
    {
      bth: bth(RoceOpcode.RC_RDMA_READ_RESPONSE_ONLY, TARGET_QPN, TARGET_PSN + 1, false),
      aeth: aeth({ kind: 'ack', credits: 0x1f }, 2),
      payload: Buffer.alloc(512, 0xc3),
    },
    TO_TARGET,
  ],
  /* 9 */ [
    {
      bth: bth(RoceOpcode.RC_ACKNOWLEDGE, INITIATOR_QPN, INITIATOR_PSN + 1, false),
      aeth: aeth({ kind: 'nak', code: 0 }, 1),
      payload: Buffer.alloc(0),
    },
    TO_INITIATOR,
  ],
  /* 10 */ [
    {
      bth: bth(RoceOpcode.RC_ACKNOWLEDGE, INITIATOR_QPN, INITIATOR_PSN + 1, false),
      aeth: aeth({ kind: 'rnr-nak', timer: 14 }, 1),
      payload: Buffer.alloc(0),
    },
    TO_INITIATOR,
  ],
  /* 11 */ [
    {
      bth: bth(RoceOpcode.RC_ACKNOWLEDGE, INITIATOR_QPN, INITIATOR_PSN + 1, false),
      aeth: aeth({ kind: 'nak', code: 2 }, 1),
      payload: Buffer.alloc(0),
    },
    TO_INITIATOR,
  ],
];

const UDP_PAYLOADS = FRAMES.map(([pkt, addressing]) => encodeRoceUdpPayload(pkt, addressing));

function capture(): Buffer {
  const writer = new PcapngWriter('iser sim/roce test');
  UDP_PAYLOADS.forEach((payload, i) => {
    const addressing = FRAMES[i]![1];
    writer.addPacket(roceV2Frame({ ip: addressing.ip, srcPort: addressing.srcPort }, payload), i + 1);
  });
  return writer.toBuffer();
}

const SKIP = missing('tshark', 'apt-get install tshark');

describe.skipIf(SKIP !== undefined)('tshark dissects sim/roce packets', () => {
  let dir = '';
  let packets: TsharkPacket[] = [];
  let columns: TsharkPacket[] = [];
  let verbose = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-roce-tshark-'));
    const path = join(dir, 'roce.pcapng');
    await writeFile(path, capture());
    packets = await runTshark(path);
    columns = await runTshark(path, {
      extraArgs: ['-e', 'frame.number', '-e', '_ws.col.Protocol', '-e', '_ws.col.Info'],
    });
    verbose = await runWithTimeout('tshark', ['-r', path, '-V'], 30_000);
  });
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  const pkt = (n: number): TsharkPacket => {
    const found = packets[n - 1];
    if (found === undefined) throw new Error(`tshark returned no frame ${n}`);
    return found;
  };
  const info = (n: number): string => (field(columns[n - 1] ?? { layers: {} }, '_ws.col.Info') ?? '').trim();
  const protocol = (n: number): string => field(columns[n - 1] ?? { layers: {} }, '_ws.col.Protocol') ?? '';

  it('reads every frame as RRoCE over UDP 4791, with our ICRC as its invariant CRC', () => {
    expect(packets.length).toBe(FRAMES.length);
    UDP_PAYLOADS.forEach((payload, i) => {
      const p = pkt(i + 1);
      expect(layers(p).slice(0, 5)).toEqual(['eth', 'ethertype', 'ip', 'udp', 'infiniband']);
      expect(field(p, 'udp.dstport')).toBe('4791');
      expect(field(p, 'ip.id')).toBe('0x0000');
      expect(field(p, 'ip.flags.df')).toBe('1');
      // tshark shows the four ICRC bytes read big-endian.
      expect(field(p, 'infiniband.invariant.crc')).toBe(`0x${payload.subarray(payload.length - 4).toString('hex')}`);
    });
  });

  it('dissects the IB CM REQ / REP / RTU handshake for iSER on port 3260', () => {
    expect([1, 2, 3].map(info)).toEqual(['CM: ConnectRequest', 'CM: ConnectReply', 'CM: ReadyToUse']);
    for (const n of [1, 2, 3]) {
      const p = pkt(n);
      expect(protocol(n)).toBe('RRoCE');
      expect(field(p, 'infiniband.bth.opcode')).toBe('100');
      expect(field(p, 'infiniband.bth.destqp')).toBe('0x000001');
      expect(field(p, 'infiniband.deth.q_key')).toBe('0x0000000080010000');
      expect(field(p, 'infiniband.deth.srcqp')).toBe('0x00000001');
      expect(field(p, 'infiniband.mad.mgmtclass')).toBe('0x07');
      expect(field(p, 'infiniband.mad.classversion')).toBe('0x02');
      expect(field(p, 'infiniband.mad.method')).toBe('0x03');
      expect(field(p, 'infiniband.mad.transactionid')).toBe('0x0000000100000abc');
    }
    const req = pkt(1);
    expect(field(req, 'infiniband.mad.attributeid')).toBe('0x0010');
    expect(field(req, 'infiniband.cm.req')).toBe('0x11111111');
    expect(field(req, 'infiniband.cm.req.serviceid')).toBe('0x0000000001060cbc');
    expect(field(req, 'infiniband.cm.req.serviceid.protocol')).toBe('0x06');
    expect(field(req, 'infiniband.cm.req.serviceid.dport')).toBe('0x0cbc');
    expect(field(req, 'infiniband.cm.req.localcaguid')).toBe('0x020000fffe000001');
    expect(field(req, 'infiniband.cm.req.localqpn')).toBe('0x000011');
    expect(field(req, 'infiniband.cm.req.startpsn')).toBe('0x0a0b0c');
    expect(field(req, 'infiniband.cm.req.responderres')).toBe('0x10');
    expect(field(req, 'infiniband.cm.req.initdepth')).toBe('0x01');
    expect(field(req, 'infiniband.cm.req.remoteresptout')).toBe('0x14');
    expect(field(req, 'infiniband.cm.req.retrcount')).toBe('0x06');
    expect(field(req, 'infiniband.cm.req.rnrretrcount')).toBe('0x06');
    expect(field(req, 'infiniband.cm.req.pppmtu')).toBe('0x03');
    expect(field(req, 'infiniband.cm.req.maxcmretr')).toBe('0x0f');
    expect(field(req, 'infiniband.cm.req.prim_locallid')).toBe('65535');
    expect(field(req, 'infiniband.cm.req.prim_localgid_ipv4')).toBe(INITIATOR);
    expect(field(req, 'infiniband.cm.req.prim_remotegid_ipv4')).toBe(TARGET);
    expect(field(req, 'infiniband.cm.req.prim_hoplim')).toBe('0x40');
    expect(field(req, 'infiniband.cm.req.prim_localacktout')).toBe('0x12');
    // Wireshark 4.0 reads the packet rate from the wrong byte (roce-rxe.md §4 quirk 2), so it is not checked.
    expect(field(req, 'infiniband.cm.req.ip_cm.ipv')).toBe('0x04');
    expect(field(req, 'infiniband.cm.req.ip_cm.sport')).toBe('0xb26e');
    expect(field(req, 'infiniband.cm.req.ip_cm.sip4')).toBe(INITIATOR);
    expect(field(req, 'infiniband.cm.req.ip_cm.dip4')).toBe(TARGET);
    expect(field(req, 'infiniband.cm.req.ip_cm.private')).toMatch(/^c0:00:00:00(:00)*$/);

    const rep = pkt(2);
    expect(field(rep, 'infiniband.mad.attributeid')).toBe('0x0013');
    expect(field(rep, 'infiniband.cm.rep')).toBe('0x22222222');
    expect(field(rep, 'infiniband.cm.rep.remotecommid')).toBe('0x11111111');
    expect(field(rep, 'infiniband.cm.rep.localqpn')).toBe('0x000012');
    expect(field(rep, 'infiniband.cm.rep.startpsn')).toBe('0x123456');
    expect(field(rep, 'infiniband.cm.rep.tgtackdelay')).toBe('0x0f');
    expect(field(rep, 'infiniband.cm.rep.failoveracc')).toBe('0x01');
    expect(field(rep, 'infiniband.cm.rep.e2eflowctrl')).toBe('0x01');
    expect(field(rep, 'infiniband.cm.rep.rnrretrcount')).toBe('0x07');
    expect(field(rep, 'infiniband.cm.rep.localcaguid')).toBe('0x020000fffe000002');
    expect(field(rep, 'infiniband.cm.rep.private')).toMatch(/^c0:00:00:00(:00)*$/);

    const rtu = pkt(3);
    expect(field(rtu, 'infiniband.mad.attributeid')).toBe('0x0014');
    expect(field(rtu, 'infiniband.cm.rtu.localcommid')).toBe('0x11111111');
    expect(field(rtu, 'infiniband.cm.rtu.remotecommid')).toBe('0x22222222');
  });

  it('follows the connection into iSER and iSCSI: a Login Request with its keys', () => {
    const p = pkt(4);
    expect(layers(p)).toEqual(['eth', 'ethertype', 'ip', 'udp', 'infiniband', 'iser', 'iscsi']);
    expect(info(4)).toBe('Login Command');
    expect(field(p, 'infiniband.bth.opcode')).toBe('4');
    expect(field(p, 'infiniband.bth.destqp')).toBe('0x000012');
    expect(field(p, 'infiniband.bth.psn')).toBe(String(INITIATOR_PSN));
    expect(field(p, 'infiniband.bth.a')).toBe('1');
    expect(field(p, 'iser.flags')).toBe('0x10');
    expect(field(p, 'iser.flags.opcode')).toBe('0x01');
    expect(field(p, 'iscsi.opcode')).toBe('0x03');
    expect(field(p, 'iscsi.login.T')).toBe('1');
    expect(field(p, 'iscsi.login.csg')).toBe('0x01');
    expect(field(p, 'iscsi.login.nsg')).toBe('0x03');
    expect(field(p, 'iscsi.isid')).toBe('40:00:01:37:00:00');
    expect(field(p, 'iscsi.initiatortasktag')).toBe('0x00000001');
    expect(fields(p, 'iscsi.keyvalue')).toEqual(LOGIN_KEYS);
  });

  it('shows the ACK, RDMA WRITE (with pad), READ request and response with their QPNs, PSNs and RETHs', () => {
    const ack = pkt(5);
    expect(info(5)).toBe('RC Acknowledge QP=0x000011');
    expect(field(ack, 'infiniband.bth.opcode')).toBe('17');
    expect(field(ack, 'infiniband.bth.psn')).toBe(String(INITIATOR_PSN));
    expect(field(ack, 'infiniband.aeth.syndrome.opcode')).toBe('0');
    expect(field(ack, 'infiniband.aeth.syndrome.credit_count')).toBe('31');
    expect(field(ack, 'infiniband.aeth.msn')).toBe('1');

    const write = pkt(6);
    expect(info(6)).toBe('RC RDMA Write Only QP=0x000011');
    expect(field(write, 'infiniband.bth.opcode')).toBe('10');
    expect(field(write, 'infiniband.bth.padcnt')).toBe('3');
    expect(field(write, 'infiniband.bth.psn')).toBe(String(TARGET_PSN));
    expect(field(write, 'infiniband.reth.va')).toBe('0x00007f0012345000');
    expect(field(write, 'infiniband.reth.r_key')).toBe('0xabcd1234');
    expect(field(write, 'infiniband.reth.dmalen')).toBe('13');
    expect(Buffer.from((field(write, 'data.data') ?? '').replaceAll(':', ''), 'hex').toString()).toBe(
      'thirteen byte\0\0\0',
    );

    const read = pkt(7);
    expect(info(7)).toBe('RC RDMA Read Request QP=0x000011');
    expect(field(read, 'infiniband.bth.opcode')).toBe('12');
    expect(field(read, 'infiniband.bth.psn')).toBe(String(TARGET_PSN + 1));
    expect(field(read, 'infiniband.reth.va')).toBe('0x00007f0012346000');
    expect(field(read, 'infiniband.reth.r_key')).toBe('0x00005678');
    expect(field(read, 'infiniband.reth.dmalen')).toBe('512');

    const response = pkt(8);
    expect(info(8)).toBe('RC RDMA Read Response Only QP=0x000012');
    expect(field(response, 'infiniband.bth.opcode')).toBe('16');
    expect(field(response, 'infiniband.bth.destqp')).toBe('0x000012');
    expect(field(response, 'infiniband.bth.psn')).toBe(String(TARGET_PSN + 1));
    expect(field(response, 'infiniband.aeth.msn')).toBe('2');
  });

  it('names the NAK PSN sequence error, the RNR NAK and the remote access error', () => {
    expect(info(9)).toBe('RC Acknowledge QP=0x000011 [PSN Sequence Error]');
    expect(field(pkt(9), 'infiniband.aeth.syndrome.opcode')).toBe('3');
    expect(field(pkt(9), 'infiniband.aeth.syndrome.error_code')).toBe('0');
    expect(field(pkt(9), 'infiniband.bth.psn')).toBe(String(INITIATOR_PSN + 1));
    expect(field(pkt(10), 'infiniband.aeth.syndrome.opcode')).toBe('1');
    expect(field(pkt(10), 'infiniband.aeth.syndrome.timer')).toBe('14');
    expect(info(11)).toBe('RC Acknowledge QP=0x000011 [Remote Access Error]');
    expect(field(pkt(11), 'infiniband.aeth.syndrome.error_code')).toBe('2');
    expect(verbose).toContain('Error Code: PSN Sequence Error (0)');
    expect(verbose).toContain('Syndrome: 46, RNR Nak');
    expect(verbose).toContain('Timer: 1.28 ms (14)');
    expect(verbose).toContain('Error Code: Remote Access Error (2)');
  });
});
