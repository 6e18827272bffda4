/**
 * A whole iSER session captured as RoCEv2 packets, for independent dissectors (tshark, scapy) and for anyone who
 * wants a realistic capture: our initiator (protocol/initiator `login()`) and our target (server/ IscsiTarget over
 * an IserListener) over transports/iser, over two soft-RoCE devices on an in-memory link in virtual time, with a
 * pcap tap. Deterministic: the same seed gives the same file, byte for byte.
 *
 * The session, in order (see {@link CaptureStep}): IB CM REQ/REP/RTU; Login (iSER keys); a 512-byte WRITE (all
 * immediate data, SEND ONLY); an 8 KiB WRITE whose first burst is an odd 2558 bytes, so the SEND and the target's
 * RDMA READ of the rest both end on pad bytes; a 4 KiB READ (RDMA WRITE FIRST/MIDDLE/LAST); INQUIRY for 37 bytes
 * (RDMA WRITE ONLY with pad); a 4 KiB READ whose first RDMA WRITE MIDDLE the link loses (NAK PSN sequence error,
 * go-back-N); a WRITE aborted while the target's backend holds it (ABORT TASK); Logout; DREQ/DREP. Then a plain
 * RC connection on port 3261: a SEND before the peer posted a receive (RNR NAK, then the retry succeeds). Twice
 * (the Logout Request, a last RC SEND) the link holds a packet back and the scenario hands the receiver a copy with
 * one bit flipped, then the original, recording what the receiver did with each ({@link HeldPacketProbe}).
 */
import { lastValueFrom, type Subscription } from 'rxjs';
import { MemoryBackend } from '../../backends/memory.js';
import { login } from '../../protocol/initiator/index.js';
import { IsidType } from '../../protocol/pdu/isid.js';
import type { BackendWriteOptions, BlockBackend, LbaRange } from '../../protocol/scsi/backend.js';
import type { TargetConfig } from '../../protocol/target/config.js';
import { IscsiTarget } from '../../server/index.js';
import { SeededRandom } from '../../sim/clock/random.js';
import { VirtualScheduler } from '../../sim/clock/virtual-scheduler.js';
import type { RoceDatagram, RoceLink, RoceLinkEndpoint } from '../../sim/roce/link/link.js';
import { MemoryLink } from '../../sim/roce/link/memory-link.js';
import { PcapTap } from '../../sim/roce/link/pcap-tap.js';
import { RoceOpcode } from '../../sim/roce/opcodes.js';
import { SoftRoceConnection } from '../../sim/roce/provider/connection.js';
import { SoftRoceProvider } from '../../sim/roce/provider/provider.js';
import type { RoceCounters } from '../../sim/roce/rc/counters.js';
import { IserConnector, IserListener } from '../../transports/iser/index.js';
import { Access, type RdmaConnection, type WorkCompletion } from '../../transports/verbs.js';
import { Collector } from './verbs-contract.js';

/** The hosts (they exist only inside the simulator). */
export const CAPTURE_INITIATOR_IP = '10.0.0.1';
export const CAPTURE_TARGET_IP = '10.0.0.2';
/** Names used in the login. */
export const CAPTURE_TARGET_IQN = 'iqn.2024-01.org.iser-test:capture';
export const CAPTURE_INITIATOR_IQN = 'iqn.2024-01.org.iser-test:capture-initiator';
/** FirstBurstLength the initiator offers: not a multiple of 4, so immediate and solicited data end on pad bytes. */
export const CAPTURE_FIRST_BURST = 2558;
/** The port of the plain RC connection (not 3260, so Wireshark's iSER heuristic leaves it alone). */
export const CAPTURE_RC_PORT = 3261;

/** A port nobody listens on (the scenario's first REQ is refused there). */
export const CAPTURE_REFUSED_PORT = 3262;

/** Where each step of the scenario starts in the capture (frame numbers are 1-based, as tshark's). */
export type CaptureStep =
  | 'reject'
  | 'connect'
  | 'login'
  | 'write-immediate'
  | 'write-solicited'
  | 'read'
  | 'inquiry'
  | 'read-lossy'
  | 'abort'
  | 'logout'
  | 'rc-connect'
  | 'rnr'
  | 'corrupt'
  | 'rc-disconnect'
  | 'end';

/** One RC queue pair as the engine set it up. */
export interface CapturedQp {
  readonly ip: string;
  readonly qpn: number;
  /** PSN of our first request. */
  readonly sqPsn: number;
  /** PSN we expected first from the peer. */
  readonly rqPsn: number;
}

/** A packet the link held back, then fed straight to its receiver: first with one bit flipped, then as sent. */
export interface HeldPacketProbe {
  /** The frame (1-based) in the capture whose UDP payload was held back and fed to the receiver. */
  readonly frame: number;
  /** That UDP payload (BTH through ICRC). */
  readonly original: Buffer;
  /** The same with one bit flipped. */
  readonly corrupted: Buffer;
  /** Which bit (0 = the most significant bit of the first byte of the UDP payload). */
  readonly bit: number;
  /** The receiver's counters before anything was fed, after the corrupted copy, and after the original. */
  readonly before: RoceCounters;
  readonly afterCorrupted: RoceCounters;
  readonly afterOriginal: RoceCounters;
  /** Datagrams the receiver sent after the corrupted copy (no ACK, no NAK, no answer: must be 0). */
  readonly repliesAfterCorrupted: number;
}

/** The plain RC SEND fed corrupted, then intact: what the receiving QP completed. */
export interface CorruptionProbe extends HeldPacketProbe {
  /** Receive completions after the corrupted copy (must be 0). */
  readonly completionsAfterCorrupted: number;
  /** The receive completion the original produced, and the bytes it placed. */
  readonly completionAfterOriginal: WorkCompletion | undefined;
  readonly received: Buffer;
  readonly sent: Buffer;
}

/** The iSER Logout Request fed corrupted, then intact: whether the target answered before the intact one. */
export interface IserCorruptionProbe extends HeldPacketProbe {
  /** The logout had completed after the corrupted copy (must be false: the target never saw the PDU). */
  readonly loggedOutAfterCorrupted: boolean;
}

/** The capture and what the engine and the session did, to compare with what the dissectors read. */
export interface IserSessionCapture {
  /** The pcapng file (Ethernet / IPv4 / UDP 4791 / RoCEv2). */
  readonly pcap: Buffer;
  readonly frames: number;
  /** First frame of each step. */
  readonly steps: Readonly<Record<CaptureStep, number>>;
  /** The iSER connection's queue pairs. */
  readonly initiatorQp: CapturedQp;
  readonly targetQp: CapturedQp;
  /** The plain RC connection's queue pairs (port {@link CAPTURE_RC_PORT}). */
  readonly rcClientQp: CapturedQp;
  readonly rcServerQp: CapturedQp;
  /** Frames (1-based) the link lost on purpose (still in the capture: the tap records what was sent). */
  readonly lostFrames: readonly number[];
  readonly corruption: CorruptionProbe;
  /** The same for the iSER Logout Request, at the target. */
  readonly iserCorruption: IserCorruptionProbe;
  /** Device counters at the end. */
  readonly initiatorCounters: RoceCounters;
  readonly targetCounters: RoceCounters;
  /** What the commands moved. */
  readonly written: Buffer;
  readonly readBack: Buffer;
  readonly inquiry: Buffer;
  readonly lossyRead: Buffer;
  /** How the aborted WRITE ended at the initiator (an error code), and the TMF response the target gave. */
  readonly abortedOutcome: string;
  /** The bytes an RNR'd SEND delivered after the retry. */
  readonly rnrReceived: Buffer;
  /** How the connect to {@link CAPTURE_REFUSED_PORT} failed (an error code). */
  readonly refused: string;
  /** Virtual milliseconds the whole scenario took. */
  readonly virtualMs: number;
}

/** Options of {@link captureIserSession}. */
export interface IserSessionCaptureOptions {
  /** Seed of the link and the devices (default 5). */
  readonly seed?: number;
}

/** Deterministic bytes. */
export function capturePattern(size: number, salt: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + salt * 7 + (i >> 8)) & 0xff;
  return b;
}

/** Bytes of `text` in a buffer of their own (registration refuses slices of Node's shared pool). */
function ownBuffer(text: string): Buffer {
  const b = Buffer.alloc(Buffer.byteLength(text));
  b.write(text);
  return b;
}

/** A link that also lets a test hand a datagram straight to an attached receiver (no tap, no model). */
class InjectableLink implements RoceLink {
  readonly #receivers = new Map<string, (datagram: RoceDatagram) => void>();

  constructor(readonly inner: MemoryLink) {}

  async attach(ip: string, receive: (datagram: RoceDatagram) => void): Promise<RoceLinkEndpoint> {
    const endpoint = await this.inner.attach(ip, receive);
    this.#receivers.set(endpoint.ip, receive);
    return endpoint;
  }

  inject(datagram: RoceDatagram): void {
    const receive = this.#receivers.get(datagram.dstIp);
    if (receive === undefined) throw new Error(`nothing attached at ${datagram.dstIp}`);
    receive(datagram);
  }
}

/** A backend whose writes at {@link GatedBackend.slowLba} take `delayMs` of virtual time (a task stays in flight). */
class GatedBackend implements BlockBackend {
  slowLba = -1;
  slowWritesStarted = 0;

  constructor(
    private readonly inner: MemoryBackend,
    private readonly clock: VirtualScheduler,
    private readonly delayMs: number,
  ) {}

  get blockSize(): number {
    return this.inner.blockSize;
  }

  get blockCount(): number {
    return this.inner.blockCount;
  }

  read(lba: number, blocks: number): Promise<readonly Buffer[]> {
    return this.inner.read(lba, blocks);
  }

  write(lba: number, data: readonly Buffer[], options: BackendWriteOptions): Promise<void> {
    if (lba !== this.slowLba) return this.inner.write(lba, data, options);
    this.slowWritesStarted++;
    return new Promise((resolve, reject) => {
      this.clock.schedule(() => {
        this.inner.write(lba, data, options).then(resolve, reject);
      }, this.delayMs);
    });
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  unmap(ranges: readonly LbaRange[]): Promise<void> {
    return this.inner.unmap(ranges);
  }
}

/** The iSCSI opcode of a message's first SEND packet (BTH 12, IETH 4 with invalidate, iSER header 28, BHS). */
function iscsiOpcodeOf(payload: Buffer): number | undefined {
  const opcode = payload[0];
  const ieth = opcode === RoceOpcode.RC_SEND_ONLY_WITH_INVALIDATE ? 4 : 0;
  if (opcode !== RoceOpcode.RC_SEND_FIRST && opcode !== RoceOpcode.RC_SEND_ONLY && ieth === 0) return undefined;
  const byte = payload[12 + ieth + 28];
  return byte === undefined ? undefined : byte & 0x3f;
}

function qpOf(connection: RdmaConnection | undefined): CapturedQp {
  if (!(connection instanceof SoftRoceConnection)) throw new Error('soft-RoCE providers give SoftRoceConnections');
  const { qpn, sqPsn, rqPsn } = connection.attributes;
  return { ip: connection.local.host, qpn, sqPsn, rqPsn };
}

/** INQUIRY (6) for `length` bytes of standard data. */
function inquiryCdb(length: number): Buffer {
  const cdb = Buffer.alloc(6);
  cdb[0] = 0x12;
  cdb.writeUInt16BE(length, 3);
  return cdb;
}

/** Each wait fires a handful of timers and moves a few ms; these bounds turn a stall into ERR_CLOCK_* quickly. */
const MAX_EVENTS_PER_RUN = 100_000;
const MAX_VIRTUAL_MS_PER_RUN = 30_000;

/** Runs the scenario and returns the capture. Rejects (ERR_CLOCK_*) instead of hanging when something stalls. */
export async function captureIserSession(options: IserSessionCaptureOptions = {}): Promise<IserSessionCapture> {
  const seed = options.seed ?? 5;
  const clock = new VirtualScheduler({ maxEvents: MAX_EVENTS_PER_RUN, maxVirtualMs: MAX_VIRTUAL_MS_PER_RUN });
  const tap = new PcapTap(clock);
  const memory = new MemoryLink({ scheduler: clock, seed, model: {}, tap });
  const link = new InjectableLink(memory);
  const run = async <T>(work: Promise<T>): Promise<T> => {
    let done = false;
    const mark = (): void => {
      done = true;
    };
    work.then(mark, mark);
    await clock.runUntil(() => done);
    return work;
  };
  const steps: Partial<Record<CaptureStep, number>> = {};
  const mark = (step: CaptureStep): void => {
    steps[step] = tap.packetCount + 1;
  };

  // What the link sees: the iSCSI opcodes on SENDs, and the faults this scenario asks for.
  const iscsiSeen: { readonly from: string; readonly opcode: number }[] = [];
  const lostFrames: number[] = [];
  let loseNextWriteMiddle = false;
  let holdNext: { readonly from: string; readonly iscsiOpcode?: number } | undefined;
  let held: { readonly datagram: RoceDatagram; readonly frame: number } | undefined;
  let sentBy = new Map<string, number>();
  memory.filter = (datagram) => {
    sentBy.set(datagram.srcIp, (sentBy.get(datagram.srcIp) ?? 0) + 1);
    const frame = tap.packetCount;
    const iscsi = iscsiOpcodeOf(datagram.payload);
    if (iscsi !== undefined) iscsiSeen.push({ from: datagram.srcIp, opcode: iscsi });
    const opcode = datagram.payload[0];
    if (loseNextWriteMiddle && datagram.srcIp === CAPTURE_TARGET_IP && opcode === RoceOpcode.RC_RDMA_WRITE_MIDDLE) {
      loseNextWriteMiddle = false;
      lostFrames.push(frame);
      return [];
    }
    if (
      holdNext?.from === datagram.srcIp &&
      opcode === RoceOpcode.RC_SEND_ONLY &&
      (holdNext.iscsiOpcode === undefined || holdNext.iscsiOpcode === iscsi)
    ) {
      holdNext = undefined;
      held = { datagram, frame };
      return [];
    }
    return 'deliver';
  };

  /** Waits for the held packet, feeds `receiver` a copy with bit 3 of `byte` flipped, looks, then the original. */
  const feedHeld = async (
    receiver: SoftRoceProvider,
    byte: number,
    look: () => void,
  ): Promise<HeldPacketProbe & { readonly original: Buffer }> => {
    await clock.runUntil(() => held !== undefined);
    if (held === undefined) throw new Error('the packet to corrupt was never sent');
    const { datagram, frame } = held;
    held = undefined;
    const bit = byte * 8 + 3;
    const corrupted = Buffer.from(datagram.payload);
    corrupted[byte] = (corrupted[byte] ?? 0) ^ (0x80 >> 3);
    const before = receiver.snapshot();
    sentBy = new Map();
    link.inject({ ...datagram, payload: corrupted });
    // Whatever the receiver would do with it (ACK, completion) has had time to happen; the retransmit timer has not.
    await clock.advanceBy(0.01);
    const afterCorrupted = receiver.snapshot();
    const repliesAfterCorrupted = sentBy.get(receiver.address) ?? 0;
    look();
    link.inject(datagram);
    await clock.advanceBy(0.01);
    return {
      frame,
      original: datagram.payload,
      corrupted,
      bit,
      before,
      afterCorrupted,
      afterOriginal: receiver.snapshot(),
      repliesAfterCorrupted,
    };
  };

  const a = await run(
    SoftRoceProvider.open({ link, scheduler: clock, address: CAPTURE_INITIATOR_IP, seed: `capture-a:${seed}` }),
  );
  const b = await run(
    SoftRoceProvider.open({ link, scheduler: clock, address: CAPTURE_TARGET_IP, seed: `capture-b:${seed}` }),
  );

  // ---- the iSER session ----------------------------------------------------------------------------------------
  const backend = new GatedBackend(new MemoryBackend(2048), clock, 2);
  const config: TargetConfig = {
    targets: [{ name: CAPTURE_TARGET_IQN, luns: [{ lun: 0, backend }], negotiation: { defaultTime2Wait: 0 } }],
    portalGroups: [{ tag: 1, portals: [{ host: CAPTURE_TARGET_IP, port: 3260, transport: 'iser' }] }],
  };
  const random = new SeededRandom(`capture-iscsi:${seed}`);
  const server = new IscsiTarget(config, {
    scheduler: clock,
    logoutDeadlineSeconds: 1,
    random: random.fork('target'),
  });
  const listener = await run(
    IserListener.listen(b, { host: CAPTURE_TARGET_IP, port: 3260 }, { scheduler: clock, queueDepth: 8 }),
  );
  server.serve(listener, 1);

  // Nobody listens on this port: the target's device answers the REQ with a REJ. The initiator's device spent a QP
  // number on the attempt, so from here on the two ends' QPNs differ (a test can tell source from destination).
  mark('reject');
  const refusedCaps = { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 };
  const refused = await run(
    a.connect({ host: CAPTURE_TARGET_IP, port: CAPTURE_REFUSED_PORT }, { qp: refusedCaps }).then(
      () => 'connected',
      (err: unknown) => (err instanceof Error && 'code' in err ? String(err.code) : String(err)),
    ),
  );

  mark('connect');
  const session = await run(
    login({
      connector: new IserConnector(a, { scheduler: clock, queueDepth: 8 }),
      portal: { host: CAPTURE_TARGET_IP, port: 3260 },
      targetName: CAPTURE_TARGET_IQN,
      initiatorName: CAPTURE_INITIATOR_IQN,
      isid: { type: IsidType.Random, a: 0, b: 0x1234, c: 0x56, d: 0x789a },
      scheduler: clock,
      random: random.fork('initiator'),
      negotiation: { firstBurstLength: CAPTURE_FIRST_BURST },
      session: { nopIntervalMs: 0 },
    }),
  );
  // The login's first SEND follows the CM handshake (REQ, REP, RTU).
  steps.login = (steps.connect ?? 1) + 3;
  const initiatorQp = qpOf(a.connections[0]);
  const targetQp = qpOf(b.connections[0]);
  const lun = session.lun(0, { blockSize: 512 });
  // The first command meets the power-on unit attention (a CHECK CONDITION with sense data); later ones do not.
  await run(lastValueFrom(lun.testUnitReady())).catch(() => undefined);

  mark('write-immediate');
  const small = capturePattern(512, 1);
  await run(lun.promises.write(0n, small));

  mark('write-solicited');
  const written = capturePattern(8192, 2);
  await run(lun.promises.write(8n, written));

  mark('read');
  const readBack = await run(lun.promises.read(8n, 8));

  mark('inquiry');
  const inquiryResult = await run(lastValueFrom(lun.command(inquiryCdb(37), { read: 37 })));
  const inquiry = inquiryResult.data;

  mark('read-lossy');
  loseNextWriteMiddle = true;
  const lossyRead = await run(lun.promises.read(12n, 8));

  mark('abort');
  backend.slowLba = 64;
  let abortedOutcome = 'still running';
  const doomed: Subscription = lun.write(64n, capturePattern(1024, 3)).subscribe({
    complete: () => {
      abortedOutcome = 'completed';
    },
    error: (err: unknown) => {
      abortedOutcome = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    },
  });
  await clock.runUntil(() => backend.slowWritesStarted > 0);
  doomed.unsubscribe();
  // The TMF response (0x22) comes back and the target's held write finishes; nothing else is in flight.
  await clock.runUntil(() => iscsiSeen.some((s) => s.from === CAPTURE_TARGET_IP && s.opcode === 0x22));
  await clock.advanceBy(5);
  backend.slowLba = -1;
  if (abortedOutcome === 'still running') abortedOutcome = 'unsubscribed';

  // The Logout Request is held back; a bit-flipped copy reaches the target first (dropped: no answer), then it.
  mark('logout');
  holdNext = { from: CAPTURE_INITIATOR_IP, iscsiOpcode: 0x06 };
  let loggedOut = false;
  const logout = session.logout().finally(() => {
    loggedOut = true;
  });
  let loggedOutAfterCorrupted = true;
  const iserProbe = await feedHeld(b, 12 + 28 + 16, () => {
    loggedOutAfterCorrupted = loggedOut;
  });
  await run(logout);
  await run(server.close());
  await run(listener.close());
  await clock.runUntil(() => a.connections.length === 0 && b.connections.length === 0);

  // ---- a plain RC connection: RNR NAK, then a corrupted copy of a captured SEND --------------------------------
  mark('rc-connect');
  const rcListener = await run(b.listen({ host: CAPTURE_TARGET_IP, port: CAPTURE_RC_PORT }));
  const qpCaps = { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1 };
  const accepted = new Promise<RdmaConnection>((resolve, reject) => {
    rcListener.connectRequests.subscribe((request) => {
      request.accept({ qp: qpCaps }).then(resolve, reject);
    });
  });
  const [client, rcServer] = await run(
    Promise.all([a.connect({ host: CAPTURE_TARGET_IP, port: CAPTURE_RC_PORT }, { qp: qpCaps }), accepted]),
  );
  const rcClientQp = qpOf(client);
  const rcServerQp = qpOf(rcServer);
  const clientWc = new Collector<WorkCompletion>(client.completions);
  const serverWc = new Collector<WorkCompletion>(rcServer.completions);

  mark('rnr');
  const rnrData = client.pd.register(ownBuffer('no receive yet'), 0);
  const rnrSink = rcServer.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
  client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: rnrData, offset: 0, length: rnrData.buffer.length }] }]);
  await clock.runUntil(() => b.snapshot().rnrNaksSent > 0);
  rcServer.postRecv([{ wrId: 10, sgl: [{ mr: rnrSink, offset: 0, length: 64 }] }]);
  await run(Promise.all([clientWc.take(1), serverWc.take(1)]));
  const rnrReceived = Buffer.from(rnrSink.buffer.subarray(0, rnrData.buffer.length));

  mark('corrupt');
  const sent = ownBuffer('flip one bit!');
  const probeData = client.pd.register(ownBuffer(sent.toString()), 0);
  const probeSink = rcServer.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
  rcServer.postRecv([{ wrId: 11, sgl: [{ mr: probeSink, offset: 0, length: 64 }] }]);
  holdNext = { from: CAPTURE_INITIATOR_IP };
  client.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr: probeData, offset: 0, length: sent.length }] }]);
  let completionsAfterCorrupted = -1;
  // A payload byte, away from the headers: only the ICRC can tell.
  const rcProbe = await feedHeld(b, 12 + 5, () => {
    completionsAfterCorrupted = serverWc.values.length - 1;
  });
  const [, completionAfterOriginal] = await run(serverWc.take(2));
  await run(clientWc.take(2));

  mark('rc-disconnect');
  await run(client.disconnect());
  await run(serverWc.end());
  await run(rcListener.close());
  mark('end');
  const initiatorCounters = a.snapshot();
  const targetCounters = b.snapshot();
  await run(Promise.all([a.close(), b.close()]));

  const complete = steps as Record<CaptureStep, number>;
  return {
    pcap: tap.toBuffer(),
    frames: tap.packetCount,
    steps: complete,
    initiatorQp,
    targetQp,
    rcClientQp,
    rcServerQp,
    lostFrames,
    corruption: {
      ...rcProbe,
      completionsAfterCorrupted,
      completionAfterOriginal,
      received: Buffer.from(probeSink.buffer.subarray(0, sent.length)),
      sent,
    },
    iserCorruption: { ...iserProbe, loggedOutAfterCorrupted },
    initiatorCounters,
    targetCounters,
    written,
    readBack,
    inquiry,
    lossyRead,
    abortedOutcome,
    rnrReceived,
    refused,
    virtualMs: clock.now(),
  };
}
