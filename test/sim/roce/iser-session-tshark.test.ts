/**
 * tshark reads a whole iSER session our initiator and target ran over soft-RoCE (test/support/roce-session-capture):
 * RRoCE → IB CM → iSER → iSCSI, with the opcodes, QPNs and PSNs our engine used, the RETHs the iSER headers
 * advertised, the login's key=value pairs, the ABORT TASK, the logout, the NAK PSN sequence error and the RNR NAK.
 *
 * Wireshark needs no decode-as here: UDP 4791 is RRoCE, and its InfiniBand dissector remembers each CM REQ/REP
 * (service ID of port 3260, QPNs) and offers the payloads of that connection to the iSER heuristic. We still pass
 * those preferences explicitly ({@link TSHARK_PREFS}) so a user's Wireshark profile cannot change what we test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opcodeInfo, RoceOpcode } from '../../../sim/roce/opcodes.js';
import type { RoceCounters } from '../../../sim/roce/rc/counters.js';
import {
  CAPTURE_FIRST_BURST,
  CAPTURE_INITIATOR_IP,
  CAPTURE_TARGET_IP,
  captureIserSession,
  type CapturedQp,
  type CaptureStep,
  type IserSessionCapture,
} from '../../support/roce-session-capture.js';
import { field, fields, layers, runTshark, type TsharkPacket } from '../../support/tshark.js';
import { missing } from '../../support/tools.js';
import { runWithTimeout } from './run-with-timeout.js';

/** RRoCE on 4791, heuristics before decode-as, iSER on target port 3260 (Wireshark 4.0's defaults). */
export const TSHARK_PREFS: readonly string[] = [
  'infiniband.rroce.port:4791',
  'infiniband.try_heuristic_first:TRUE',
  'iser.target_ports:3260',
];

const MTU = 1024;
const PSN_MASK = 0xffffff;
const hex = (n: number | bigint, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

describe.skipIf(missing('tshark', 'apt-get install tshark') !== undefined)(
  'tshark dissects a whole iSER session over soft-RoCE',
  () => {
    let capture: IserSessionCapture;
    let dir = '';
    let packets: TsharkPacket[] = [];
    let verbose = '';
    let columns: TsharkPacket[] = [];

    beforeAll(async () => {
      capture = await captureIserSession();
      dir = await mkdtemp(join(tmpdir(), 'iser-session-tshark-'));
      const path = join(dir, 'iser-session.pcapng');
      await writeFile(path, capture.pcap);
      packets = await runTshark(path, { prefs: TSHARK_PREFS, timeoutMs: 60_000 });
      columns = await runTshark(path, {
        prefs: TSHARK_PREFS,
        extraArgs: ['-e', 'frame.number', '-e', '_ws.col.Info'],
        timeoutMs: 60_000,
      });
      const args = ['-r', path, '-V'];
      for (const pref of TSHARK_PREFS) args.push('-o', pref);
      verbose = await runWithTimeout('tshark', args, 60_000);
      const version = await runWithTimeout('tshark', ['--version'], 30_000);
      console.log(`${version.split('\n')[0] ?? 'tshark'}; prefs: ${TSHARK_PREFS.join(' ')}`);
    }, 120_000);
    afterAll(async () => {
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    });

    // ---- helpers over tshark's view -------------------------------------------------------------------------------

    const num = (p: TsharkPacket, name: string): number => {
      const v = field(p, name);
      if (v === undefined) throw new Error(`frame ${field(p, 'frame.number')} has no ${name}`);
      return Number(v);
    };
    const frameNo = (p: TsharkPacket): number => num(p, 'frame.number');
    const opcode = (p: TsharkPacket): number => num(p, 'infiniband.bth.opcode');
    const psn = (p: TsharkPacket): number => num(p, 'infiniband.bth.psn');
    const src = (p: TsharkPacket): string => field(p, 'ip.src') ?? '';
    const isRc = (p: TsharkPacket): boolean => opcode(p) < 0x20;
    const kind = (p: TsharkPacket): string => opcodeInfo(opcode(p))?.kind ?? '?';
    const iscsiOpcode = (p: TsharkPacket): string | undefined => field(p, 'iscsi.opcode');
    /** The Info column of a frame. */
    const info = (p: TsharkPacket): string =>
      (field(columns[frameNo(p) - 1] ?? { layers: {} }, '_ws.col.Info') ?? '').trim();
    /** tshark -V's text of one frame (from its "Frame n:" line to the next). */
    const verboseOf = (p: TsharkPacket): string => {
      const start = verbose.indexOf(`Frame ${frameNo(p)}: `);
      const end = verbose.indexOf(`\nFrame ${frameNo(p) + 1}: `, start);
      return start < 0 ? '' : verbose.slice(start, end < 0 ? undefined : end);
    };
    /** The frames of one step (from its first frame up to the next step's). */
    const stepFrames = (step: CaptureStep, next: CaptureStep): TsharkPacket[] =>
      packets.slice(capture.steps[step] - 1, capture.steps[next] - 1);
    /** The first frame after index `from` (0-based into `list`) that matches. */
    const find = (list: readonly TsharkPacket[], match: (p: TsharkPacket) => boolean, what: string): TsharkPacket => {
      const found = list.find(match);
      if (found === undefined) throw new Error(`no frame with ${what}`);
      return found;
    };
    const byIscsi = (list: readonly TsharkPacket[], op: string): TsharkPacket =>
      find(list, (p) => iscsiOpcode(p) === op, `iscsi.opcode ${op}`);
    /** The QP that sent a packet, and the QP it went to, by the addresses (iSER QPs or the plain RC ones). */
    const qps = (p: TsharkPacket, rcPhase: boolean): { readonly from: CapturedQp; readonly to: CapturedQp } => {
      const [i, t] = rcPhase ? [capture.rcClientQp, capture.rcServerQp] : [capture.initiatorQp, capture.targetQp];
      return src(p) === CAPTURE_INITIATOR_IP ? { from: i, to: t } : { from: t, to: i };
    };

    it('is deterministic: the same seed gives the same capture, byte for byte', async () => {
      const again = await captureIserSession();
      expect(again.pcap.equals(capture.pcap)).toBe(true);
    });

    it('reads every frame as Ethernet / IPv4 / UDP 4791 / RRoCE, and counts the opcodes our devices sent', () => {
      expect(packets.length).toBe(capture.frames);
      const histogram = new Map<string, number>();
      for (const p of packets) {
        expect(layers(p).slice(0, 5)).toEqual(['eth', 'ethertype', 'ip', 'udp', 'infiniband']);
        expect(field(p, 'udp.dstport')).toBe('4791');
        const name = opcodeInfo(opcode(p))?.name ?? `opcode ${opcode(p)}`;
        histogram.set(name, (histogram.get(name) ?? 0) + 1);
      }
      // The tap records what each device put on the wire (the lost packet included): both devices' send counters.
      const sent = (c: RoceCounters, name: string): number =>
        c.sent.byOpcode[name as keyof RoceCounters['sent']['byOpcode']]?.packets ?? 0;
      const expected = new Map<string, number>();
      for (const name of new Set([
        ...Object.keys(capture.initiatorCounters.sent.byOpcode),
        ...Object.keys(capture.targetCounters.sent.byOpcode),
      ])) {
        expected.set(name, sent(capture.initiatorCounters, name) + sent(capture.targetCounters, name));
      }
      expect(Object.fromEntries([...histogram].sort())).toEqual(Object.fromEntries([...expected].sort()));
      console.log(
        `tshark: ${packets.length} frames; by opcode: ${[...histogram]
          .sort()
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      );
      // Every kind the session is meant to show is there.
      for (const name of [
        'RC_SEND_FIRST',
        'RC_SEND_MIDDLE',
        'RC_SEND_LAST',
        'RC_SEND_ONLY',
        'RC_SEND_ONLY_WITH_INVALIDATE',
        'RC_RDMA_WRITE_FIRST',
        'RC_RDMA_WRITE_MIDDLE',
        'RC_RDMA_WRITE_LAST',
        'RC_RDMA_WRITE_ONLY',
        'RC_RDMA_READ_REQUEST',
        'RC_RDMA_READ_RESPONSE_FIRST',
        'RC_RDMA_READ_RESPONSE_MIDDLE',
        'RC_RDMA_READ_RESPONSE_LAST',
        'RC_ACKNOWLEDGE',
        'UD_SEND_ONLY',
      ]) {
        expect({ name, present: (histogram.get(name) ?? 0) > 0 }).toEqual({ name, present: true });
      }
    });

    it('IB CM: REQ refused with REJ, then REQ / REP / RTU and DREQ / DREP carrying the QPNs and PSNs our engine used', () => {
      const cm = packets.filter((p) => field(p, 'infiniband.mad.mgmtclass') === '0x07');
      const ids = cm.map((p) => field(p, 'infiniband.mad.attributeid'));
      // REQ, REJ | REQ, REP, RTU | DREQ ×2 (both ends disconnect), DREP ×2 | REQ, REP, RTU | DREQ, DREP
      expect(ids).toEqual([
        '0x0010',
        '0x0012',
        '0x0010',
        '0x0013',
        '0x0014',
        '0x0015',
        '0x0015',
        '0x0016',
        '0x0016',
        '0x0010',
        '0x0013',
        '0x0014',
        '0x0015',
        '0x0016',
      ]);
      expect(cm.map(info)).toEqual(
        [
          'ConnectRequest',
          'ConnectReject',
          'ConnectRequest',
          'ConnectReply',
          'ReadyToUse',
          'DisconnectRequest',
          'DisconnectRequest',
          'DisconnectReply',
          'DisconnectReply',
          'ConnectRequest',
          'ConnectReply',
          'ReadyToUse',
          'DisconnectRequest',
          'DisconnectReply',
        ].map((name) => `CM: ${name}`),
      );
      for (const p of cm) {
        expect(opcode(p)).toBe(RoceOpcode.UD_SEND_ONLY);
        expect(field(p, 'infiniband.bth.destqp')).toBe('0x000001');
        expect(field(p, 'infiniband.deth.q_key')).toBe('0x0000000080010000');
      }
      const [req0, rej, req, rep, rtu, dreqA, dreqB, , , rcReq, rcRep, , rcDreq] = cm as [
        TsharkPacket,
        ...TsharkPacket[],
      ];
      // Nobody listens on the first port: REJ reason 8 (invalid service ID), naming the REQ's comm ID.
      expect(field(rej!, 'infiniband.cm.rej.reason')).toBe('0x0008');
      expect(field(rej!, 'infiniband.cm.rej.remotecommid')).toBe(field(req0, 'infiniband.cm.req'));

      const { initiatorQp, targetQp, rcClientQp, rcServerQp } = capture;
      expect(initiatorQp.qpn).not.toBe(targetQp.qpn);
      const checkHandshake = (
        r: TsharkPacket,
        a: TsharkPacket,
        u: TsharkPacket,
        active: CapturedQp,
        passive: CapturedQp,
        port: number,
      ): void => {
        expect(field(r, 'infiniband.cm.req.serviceid')).toBe(`0x000000000106${port.toString(16).padStart(4, '0')}`);
        expect(field(r, 'infiniband.cm.req.localqpn')).toBe(hex(active.qpn, 6));
        // Between them, REQ and REP announce both ends' first send PSNs (which message carries which end's is
        // ib_cm's convention, tested in sim/roce); each end receives from the PSN the other sends from.
        expect([field(r, 'infiniband.cm.req.startpsn'), field(a, 'infiniband.cm.rep.startpsn')].sort()).toEqual(
          [hex(active.sqPsn, 6), hex(passive.sqPsn, 6)].sort(),
        );
        expect(field(r, 'infiniband.cm.req.ip_cm.sip4')).toBe(CAPTURE_INITIATOR_IP);
        expect(field(r, 'infiniband.cm.req.ip_cm.dip4')).toBe(CAPTURE_TARGET_IP);
        expect(field(a, 'infiniband.cm.rep.localqpn')).toBe(hex(passive.qpn, 6));
        expect(field(a, 'infiniband.cm.rep.remotecommid')).toBe(field(r, 'infiniband.cm.req'));
        expect(field(a, 'infiniband.mad.transactionid')).toBe(field(r, 'infiniband.mad.transactionid'));
        expect(field(u, 'infiniband.cm.rtu.localcommid')).toBe(field(r, 'infiniband.cm.req'));
        expect(field(u, 'infiniband.cm.rtu.remotecommid')).toBe(field(a, 'infiniband.cm.rep'));
        // Each end starts receiving at the PSN the other announced.
        expect(passive.rqPsn).toBe(active.sqPsn);
        expect(active.rqPsn).toBe(passive.sqPsn);
      };
      checkHandshake(req!, rep!, rtu!, initiatorQp, targetQp, 3260);
      checkHandshake(rcReq!, rcRep!, cm[11]!, rcClientQp, rcServerQp, 3261);
      // iSER CM headers (iser_cm_hdr, RFC 7145 / Linux): 0x80 = ZBVA not supported; no 0x40, because both devices
      // can Send with Invalidate (the target's SCSI Responses below use it). The rest of the private data is zero.
      expect(field(req!, 'infiniband.cm.req.ip_cm.private')).toMatch(/^80(:00)+$/);
      expect(field(rep!, 'infiniband.cm.rep.private')).toMatch(/^80(:00)+$/);
      // The plain RC connection carries no iSER header.
      expect(field(rcReq!, 'infiniband.cm.req.ip_cm.private')).toMatch(/^00(:00)+$/);
      // DREQ names the peer's QPN (Wireshark files it under cm.req.remoteqpneecn); DREP answers by comm ID.
      const dreqs = [dreqA!, dreqB!].map((p) => [src(p), field(p, 'infiniband.cm.req.remoteqpneecn')]);
      expect(dreqs.sort()).toEqual([
        [CAPTURE_INITIATOR_IP, hex(targetQp.qpn, 6)],
        [CAPTURE_TARGET_IP, hex(initiatorQp.qpn, 6)],
      ]);
      expect(field(rcDreq!, 'infiniband.cm.req.remoteqpneecn')).toBe(hex(rcServerQp.qpn, 6));
      for (const p of cm.filter((q) => field(q, 'infiniband.mad.attributeid') === '0x0016')) {
        expect(field(p, 'infiniband.cm.drsp.localcommid')).toMatch(/^0x[0-9a-f]{8}$/);
      }
    });

    it('every RC packet goes to the peer’s QPN; request PSNs run from the CM’s start PSN with go-back-N only after the NAK', () => {
      const model = (rcPhase: boolean): void => {
        const list = rcPhase
          ? packets.slice(capture.steps['rc-connect'] - 1)
          : packets.slice(capture.steps.connect - 1, capture.steps['rc-connect'] - 1);
        const rc = list.filter(isRc);
        const next = new Map<string, number>();
        const acked = new Map<string, Set<number>>();
        const readRequests = new Map<number, { readonly packets: number; readonly from: string }>();
        let rewinds = 0;
        let retransmitted = 0;
        const highest = new Map<string, number>();
        for (const p of rc) {
          const { from, to } = qps(p, rcPhase);
          expect({ frame: frameNo(p), destqp: field(p, 'infiniband.bth.destqp') }).toEqual({
            frame: frameNo(p),
            destqp: hex(to.qpn, 6),
          });
          const k = kind(p);
          if (k === 'send' || k === 'write' || k === 'read-request') {
            const expected = next.get(from.ip) ?? from.sqPsn;
            const sent = psn(p);
            if (sent !== expected) {
              // Only a go-back-N may break the sequence, and only back to a PSN a NAK named.
              expect(acked.get(to.ip)?.has(sent)).toBe(true);
              rewinds++;
            }
            const span = k === 'read-request' ? Math.max(1, Math.ceil(num(p, 'infiniband.reth.dmalen') / MTU)) : 1;
            if (k === 'read-request') readRequests.set(sent, { packets: span, from: from.ip });
            const end = (sent + span) & PSN_MASK;
            const top = highest.get(from.ip) ?? from.sqPsn;
            const behind = (top - sent) & PSN_MASK;
            if (behind > 0 && behind < 0x800000) retransmitted++;
            else highest.set(from.ip, end);
            next.set(from.ip, end);
          } else if (k === 'ack') {
            // An ACK or NAK names a PSN of the peer's requests that was sent already.
            const peerNext = next.get(to.ip) ?? to.sqPsn;
            const distance = (peerNext - psn(p)) & PSN_MASK;
            expect(distance).toBeGreaterThan(0);
            expect(distance).toBeLessThan(200);
            // A NAK (3) or RNR NAK (1) names the PSN the requester must go back to.
            if (['1', '3'].includes(field(p, 'infiniband.aeth.syndrome.opcode') ?? '')) {
              const set = acked.get(from.ip) ?? new Set<number>();
              set.add(psn(p));
              acked.set(from.ip, set);
            }
          } else if (k === 'read-response') {
            // Read responses take the PSNs of the request they answer.
            const owner = [...readRequests].find(([first, r]) => ((psn(p) - first) & PSN_MASK) < r.packets);
            expect(owner?.[1].from).toBe(to.ip);
          }
        }
        // iSER: one go-back-N (MIDDLE, MIDDLE, LAST again after the NAK). The RNR retry resends the same PSN.
        expect({ rewinds, retransmitted }).toEqual(
          rcPhase ? { rewinds: 1, retransmitted: 1 } : { rewinds: 1, retransmitted: 3 },
        );
      };
      model(false);
      model(true);
    });

    it('login: iSER → iSCSI Login Request/Response with the key=value pairs, RDMAExtensions and the iSER keys', () => {
      const login = stepFrames('login', 'write-immediate');
      const requests = login.filter((p) => iscsiOpcode(p) === '0x03');
      const responses = login.filter((p) => iscsiOpcode(p) === '0x23');
      expect(requests.length).toBe(2);
      expect(responses.length).toBe(2);
      for (const p of [...requests, ...responses]) {
        expect(layers(p)).toEqual(['eth', 'ethertype', 'ip', 'udp', 'infiniband', 'iser', 'iscsi']);
        expect(field(p, 'iser.flags')).toBe('0x10');
        expect(field(p, 'iser.flags.opcode')).toBe('0x01');
        expect(opcode(p)).toBe(RoceOpcode.RC_SEND_ONLY);
      }
      const [security, operational] = requests as [TsharkPacket, TsharkPacket];
      expect(field(security, 'iscsi.isid')).toBe('80:12:34:56:78:9a');
      expect(field(security, 'iscsi.login.csg')).toBe('0x00');
      expect(fields(security, 'iscsi.keyvalue')).toEqual(
        expect.arrayContaining([
          'InitiatorName=iqn.2024-01.org.iser-test:capture-initiator',
          'TargetName=iqn.2024-01.org.iser-test:capture',
          'SessionType=Normal',
          'AuthMethod=None',
        ]),
      );
      expect(field(operational, 'iscsi.login.csg')).toBe('0x01');
      expect(field(operational, 'iscsi.login.T')).toBe('1');
      expect(field(operational, 'iscsi.login.nsg')).toBe('0x03');
      const offered = fields(operational, 'iscsi.keyvalue');
      expect(offered).toEqual(
        expect.arrayContaining([
          'RDMAExtensions=Yes',
          'InitiatorRecvDataSegmentLength=8192',
          'TargetRecvDataSegmentLength=8192',
          `FirstBurstLength=${CAPTURE_FIRST_BURST}`,
          'ImmediateData=Yes',
        ]),
      );
      // Under iSER the RDSL keys replace MaxRecvDataSegmentLength (RFC 7145), so we do not offer it.
      expect(offered.some((kv) => kv.startsWith('MaxRecvDataSegmentLength='))).toBe(false);
      const answered = fields(responses[1]!, 'iscsi.keyvalue');
      expect(answered).toEqual(
        expect.arrayContaining(['RDMAExtensions=Yes', `FirstBurstLength=${CAPTURE_FIRST_BURST}`]),
      );
      expect(field(responses[1]!, 'iscsi.login.status')).toBe('0x0000');
      expect(field(responses[1]!, 'iscsi.login.T')).toBe('1');
      // The login text is not a multiple of 4: the BTH pad count covers it (iSER carries no iSCSI padding).
      const padded = [...requests, ...responses].filter((p) => num(p, 'infiniband.bth.padcnt') > 0);
      expect(padded.length).toBeGreaterThan(0);
      for (const p of padded) {
        expect((num(p, 'iscsi.datasegmentlength') + num(p, 'infiniband.bth.padcnt')) % 4).toBe(0);
      }
    });

    it('a WRITE with immediate data and a solicited rest: the target RDMA READs exactly what the Write STag/VA advertised', () => {
      const small = stepFrames('write-immediate', 'write-solicited');
      const smallCmd = byIscsi(small, '0x01');
      expect(opcode(smallCmd)).toBe(RoceOpcode.RC_SEND_ONLY);
      expect(field(smallCmd, 'iscsi.scsicommand.expecteddatatransferlength')).toBe('512');
      expect(field(smallCmd, 'iscsi.datasegmentlength')).toBe('512');
      expect(small.some((p) => kind(p) === 'read-request')).toBe(false);

      const big = stepFrames('write-solicited', 'read');
      const cmd = byIscsi(big, '0x01');
      expect(opcode(cmd)).toBe(RoceOpcode.RC_SEND_FIRST);
      expect(field(cmd, 'iscsi.scsicommand.W')).toBe('1');
      expect(field(cmd, 'iscsi.scsicommand.expecteddatatransferlength')).toBe('8192');
      expect(field(cmd, 'iscsi.datasegmentlength')).toBe(String(CAPTURE_FIRST_BURST));
      expect(field(cmd, 'iser.flags.wsv')).toBe('1');
      expect(field(cmd, 'iser.flags.rsv')).toBe('0');
      const stag = field(cmd, 'iser.write_stag') ?? '';
      const va = BigInt(field(cmd, 'iser.write_base_offset') ?? '0');
      expect(stag).not.toBe('0x00000000');
      // The command's SEND: FIRST, MIDDLE, LAST; 76 + 2558 bytes, so the LAST ends on 2 pad bytes.
      const send = big.filter((p) => src(p) === CAPTURE_INITIATOR_IP && kind(p) === 'send');
      expect(send.map(opcode)).toEqual([RoceOpcode.RC_SEND_FIRST, RoceOpcode.RC_SEND_MIDDLE, RoceOpcode.RC_SEND_LAST]);
      expect(num(send[2]!, 'infiniband.bth.padcnt')).toBe(2);

      const read = find(big, (p) => kind(p) === 'read-request', 'an RDMA READ request');
      expect(src(read)).toBe(CAPTURE_TARGET_IP);
      expect(field(read, 'infiniband.reth.r_key')).toBe(stag);
      // The Write VA names the first byte not sent as immediate data (as Linux's iSER initiator does).
      expect(BigInt(field(read, 'infiniband.reth.va') ?? '0')).toBe(va);
      expect(num(read, 'infiniband.reth.dmalen')).toBe(8192 - CAPTURE_FIRST_BURST);
      const responses = big.filter((p) => kind(p) === 'read-response');
      expect(responses.map(opcode)).toEqual([
        RoceOpcode.RC_RDMA_READ_RESPONSE_FIRST,
        ...Array<number>(4).fill(RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE),
        RoceOpcode.RC_RDMA_READ_RESPONSE_LAST,
      ]);
      expect(responses.map(psn)).toEqual(responses.map((_, i) => (psn(read) + i) & PSN_MASK));
      expect(num(responses[5]!, 'infiniband.bth.padcnt')).toBe(2); // 5634 = 5 × 1024 + 514
      expect(field(responses[0]!, 'infiniband.aeth.syndrome.opcode')).toBe('0');
      // The SCSI Response comes with Send with Invalidate of the initiator's Write STag.
      const status = byIscsi(big, '0x21');
      expect(opcode(status)).toBe(RoceOpcode.RC_SEND_ONLY_WITH_INVALIDATE);
      expect(`0x${(field(status, 'infiniband.ieth') ?? '').replaceAll(':', '')}`).toBe(stag);
      expect(field(status, 'iscsi.scsiresponse.status')).toBe('0x00');
      expect(field(status, 'iscsi.initiatortasktag')).toBe(field(cmd, 'iscsi.initiatortasktag'));
    });

    it('READs: RDMA WRITEs to the Read STag/VA (FIRST/MIDDLE/LAST, and ONLY with 3 pad bytes for 37 bytes)', () => {
      const read = stepFrames('read', 'inquiry');
      const cmd = byIscsi(read, '0x01');
      expect(field(cmd, 'iscsi.scsicommand.R')).toBe('1');
      expect(field(cmd, 'iser.flags.rsv')).toBe('1');
      expect(field(cmd, 'iser.flags.wsv')).toBe('0');
      const writes = read.filter((p) => kind(p) === 'write');
      expect(writes.map(opcode)).toEqual([
        RoceOpcode.RC_RDMA_WRITE_FIRST,
        RoceOpcode.RC_RDMA_WRITE_MIDDLE,
        RoceOpcode.RC_RDMA_WRITE_MIDDLE,
        RoceOpcode.RC_RDMA_WRITE_LAST,
      ]);
      expect(field(writes[0]!, 'infiniband.reth.r_key')).toBe(field(cmd, 'iser.read_stag'));
      expect(BigInt(field(writes[0]!, 'infiniband.reth.va') ?? '')).toBe(
        BigInt(field(cmd, 'iser.read_base_offset') ?? '-1'),
      );
      expect(field(writes[0]!, 'infiniband.reth.dmalen')).toBe('4096');
      expect(writes.slice(1).some((p) => field(p, 'infiniband.reth') !== undefined)).toBe(false);
      expect(capture.readBack.equals(capture.written.subarray(0, 4096))).toBe(true);

      const inquiry = stepFrames('inquiry', 'read-lossy');
      const icmd = byIscsi(inquiry, '0x01');
      expect(field(icmd, 'iscsi.scsicommand.expecteddatatransferlength')).toBe('37');
      const only = find(inquiry, (p) => opcode(p) === RoceOpcode.RC_RDMA_WRITE_ONLY, 'an RDMA WRITE ONLY');
      expect(field(only, 'infiniband.reth.dmalen')).toBe('37');
      expect(field(only, 'infiniband.bth.padcnt')).toBe('3');
      expect(field(only, 'infiniband.reth.r_key')).toBe(field(icmd, 'iser.read_stag'));
      expect(capture.inquiry.length).toBe(37);
    });

    it('a lost RDMA WRITE MIDDLE: the initiator NAKs (PSN sequence error) the lost PSN, the target goes back to it', () => {
      const lossy = stepFrames('read-lossy', 'abort');
      expect(capture.lostFrames.length).toBe(1);
      const lost = packets[capture.lostFrames[0]! - 1]!;
      expect(opcode(lost)).toBe(RoceOpcode.RC_RDMA_WRITE_MIDDLE);
      const nak = find(lossy, (p) => field(p, 'infiniband.aeth.syndrome.opcode') === '3', 'a NAK');
      expect(src(nak)).toBe(CAPTURE_INITIATOR_IP);
      expect(field(nak, 'infiniband.aeth.syndrome.error_code')).toBe('0');
      expect(info(nak)).toBe(`RC Acknowledge QP=${hex(capture.targetQp.qpn, 6)} [PSN Sequence Error]`);
      expect(psn(nak)).toBe(psn(lost));
      expect(field(nak, 'infiniband.bth.destqp')).toBe(hex(capture.targetQp.qpn, 6));
      const after = lossy.slice(lossy.indexOf(nak) + 1).filter((p) => kind(p) === 'write');
      expect(after.map(psn)).toEqual([psn(lost), (psn(lost) + 1) & PSN_MASK, (psn(lost) + 2) & PSN_MASK]);
      expect(verboseOf(nak)).toContain('Syndrome: 96, Nak');
      expect(verboseOf(nak)).toContain('OpCode: Nak (3)');
      expect(verboseOf(nak)).toContain('Error Code: PSN Sequence Error (0)');
      expect(capture.lossyRead.equals(capture.written.subarray(2048, 6144))).toBe(true);
      expect(capture.initiatorCounters.seqNaksSent).toBe(1);
      expect(capture.targetCounters.seqNaksReceived).toBe(1);
    });

    it('ABORT TASK of a WRITE the target still holds: TMF Request names its ITT, Function Complete, no SCSI Response', () => {
      const abort = stepFrames('abort', 'logout');
      const cmd = byIscsi(abort, '0x01');
      const itt = field(cmd, 'iscsi.initiatortasktag');
      const tmf = byIscsi(abort, '0x02');
      expect(field(tmf, 'iscsi.taskmanfun.function')).toBe('0x01');
      expect(field(tmf, 'iscsi.taskmanfun.referencedtasktag')).toBe(itt);
      expect(field(tmf, 'iscsi.I')).toBe('1');
      expect(info(tmf)).toBe('Task Management Function (Abort Task)');
      const answer = byIscsi(abort, '0x22');
      expect(info(answer)).toBe('Task Management Function Response (Function complete)');
      expect(field(answer, 'iscsi.taskmanfun.response')).toBe('0x00');
      expect(field(answer, 'iscsi.initiatortasktag')).toBe(field(tmf, 'iscsi.initiatortasktag'));
      expect(frameNo(answer)).toBeGreaterThan(frameNo(tmf));
      const later = packets.slice(frameNo(cmd));
      expect(later.some((p) => iscsiOpcode(p) === '0x21' && field(p, 'iscsi.initiatortasktag') === itt)).toBe(false);
      expect(capture.abortedOutcome).toBe('unsubscribed');
    });

    it('Logout Request (close session) and Response, then both ends disconnect', () => {
      const logout = stepFrames('logout', 'rc-connect');
      const request = byIscsi(logout, '0x06');
      expect(field(request, 'iscsi.logout.reason')).toBe('0x00');
      expect(info(request)).toBe('Logout Command (Close session)');
      const response = byIscsi(logout, '0x26');
      expect(info(response)).toBe('Logout Response');
      expect(field(response, 'iscsi.logout.response')).toBe('0x00');
      expect(field(response, 'iscsi.initiatortasktag')).toBe(field(request, 'iscsi.initiatortasktag'));
      expect(logout.filter((p) => field(p, 'infiniband.mad.attributeid') === '0x0015').length).toBe(2);
    });

    it('an RNR NAK (no receive posted) is named as such, and the retried SEND with the same PSN is acknowledged', () => {
      const rnr = stepFrames('rnr', 'corrupt');
      const sends = rnr.filter((p) => opcode(p) === RoceOpcode.RC_SEND_ONLY);
      expect(sends.length).toBe(2);
      expect(psn(sends[1]!)).toBe(psn(sends[0]!));
      expect(psn(sends[0]!)).toBe(capture.rcClientQp.sqPsn);
      const acks = rnr.filter((p) => opcode(p) === RoceOpcode.RC_ACKNOWLEDGE);
      expect(acks.map((p) => field(p, 'infiniband.aeth.syndrome.opcode'))).toEqual(['1', '0']);
      expect(field(acks[0]!, 'infiniband.aeth.syndrome.timer')).toBe('12');
      expect(psn(acks[0]!)).toBe(psn(sends[0]!));
      expect(verboseOf(acks[0]!)).toContain('Syndrome: 44, RNR Nak');
      expect(verboseOf(acks[0]!)).toContain('OpCode: RNR Nak (1)');
      expect(verboseOf(acks[0]!)).toContain('Timer: 0.64 ms (12)');
      expect(verboseOf(acks[1]!)).toContain('OpCode: Ack (0)');
      expect(capture.rnrReceived.toString()).toBe('no receive yet');
      expect(capture.targetCounters.rnrNaksSent).toBe(1);
    });
  },
);
