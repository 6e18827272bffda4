/**
 * The soft-RoCE Verbs provider: one RoCEv2 device at one IP address on a {@link RoceLink}, speaking real
 * RoCEv2 as Linux rxe does, with IB CM on QP1 as rdma_cm peers expect.
 *
 * It owns the device's wire I/O (ICRC, receive checks, QP1), its QP and CM tables, and the RxJS edge of the CM
 * sessions (timers on the injected scheduler); connections ({@link SoftRoceConnection}) run the RC engine.
 * Receive checks follow rxe_recv.c: ICRC (per the ICRC mode), TVer 0, P_Key, QPN ≠ 0, the QP exists and its
 * peer is the sender; QP1 packets must carry the GSI Q_Key.
 */
import type { SchedulerLike } from 'rxjs';
import { VerbsError } from '../../../transports/verbs.js';
import type {
  AcceptOptions,
  ConnectOptions,
  QpCapabilities,
  RdmaAddress,
  RdmaConnection,
  RdmaListener,
  VerbsCapabilities,
  VerbsProvider,
} from '../../../transports/verbs.js';
import { SeededRandom } from '../../clock/random.js';
import type { EventLog, EventValue } from '../../trace/event-log.js';
import { DEFAULT_PKEY } from '../bth.js';
import { decodeCmMad, encodeCmMad, type CmMessage } from '../cm-mad.js';
import { CmMessageRef, CmRejectReason, cmRejectReasonText, type CmRej } from '../cm-rej.js';
import type { CmRep } from '../cm-rep.js';
import { CmTransportServiceType, ibMtuBytes, type CmReq } from '../cm-req.js';
import { decodeRdmaCmReqPrivateData, parseRdmaCmServiceId, RdmaPortSpace } from '../cma-header.js';
import { isIserError } from '../../../protocol/errors.js';
import { decodeRoceUdpPayload, encodeRoceUdpPayload, type RoceUdpAddressing } from '../frame.js';
import { gsiPacket, madFromGsiPacket } from '../gsi.js';
import { ipv4Bytes, ipv6Bytes } from '../ip-address.js';
import { GSI_QPN } from '../mad.js';
import { opcodeInfo } from '../opcodes.js';
import type { RocePacket } from '../packet.js';
import { PSN_MASK } from '../psn.js';
import { CmSession, type CmAction, type CmFailure, type CmSessionContext } from '../cm/cm-session.js';
import { RoceCounterSet, type RoceCounters } from '../rc/counters.js';
import { MemoryKeyTable, SoftRoceProtectionDomain } from '../rc/memory-region.js';
import type { PathMtu, RcQpAttributes } from '../rc/attributes.js';
import { canonicalIp, ipVersionOf, type RoceDatagram, type RoceLinkEndpoint } from '../link/link.js';
import { buildRep, buildReq, caGuidFor } from './cm-messages.js';
import { SoftRoceConnection, type ConnectionHost } from './connection.js';
import { EdgeTimer } from './edge-timer.js';
import { SoftRoceConnectRequest, SoftRoceListener, type ConnectRequestHost } from './listener.js';
import { resolveOptions, type ResolvedSoftRoceOptions, type SoftRoceOptions } from './options.js';
import { qpSourcePort, rcSourcePort } from './source-port.js';

/** rxe's first QP number for consumers (QP0 and QP1 are special; its index pool starts at 16, the first QP is 17). */
export const FIRST_QPN = 17;

/** Listening on these means "every address of the device". */
const WILDCARD = new Set(['0.0.0.0', '::']);

/** The largest consumer private data in each CM message (rdma_cm's header taken out of the REQ's). */
const PRIVATE_DATA_LIMITS = { REQ: 56, REP: 196, REJ: 148 } as const;

/** Who a CM session reports to. */
interface CmOwner {
  established(rep?: CmRep): void;
  failed(failure: CmFailure): void;
  disconnected(): void;
}

interface SessionEntry {
  readonly session: CmSession;
  readonly peerIp: string;
  readonly timer: EdgeTimer;
  owner: CmOwner;
  connection: SoftRoceConnection | undefined;
  /** Its keys in the remote comm ID and remote QPN tables, once it knows its peer's (REQ received, REP received). */
  remoteKeys: { readonly id: string; readonly qpn: string } | undefined;
}

function invalid(message: string): VerbsError {
  return new VerbsError('ERR_VERBS_INVALID_WR', message, { errno: 'EINVAL' });
}

function intOption(value: number | undefined, fallback: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > max) throw invalid(`${name} must be an integer in 0..${max}, got ${v}`);
  return v;
}

function checkPrivateData(data: Buffer | undefined, kind: keyof typeof PRIVATE_DATA_LIMITS): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  if (!Buffer.isBuffer(data)) throw invalid(`${kind} private data must be a Buffer`);
  const limit = PRIVATE_DATA_LIMITS[kind];
  if (data.length > limit) throw invalid(`${kind} private data is ${data.length} bytes; at most ${limit} fit`);
  return data;
}

/** A soft-RoCE device and its Verbs provider. */
export class SoftRoceProvider implements VerbsProvider, ConnectionHost, ConnectRequestHost {
  readonly name = 'softroce';
  readonly caps: VerbsCapabilities;
  /** The device's address, in canonical form. */
  readonly address: string;
  readonly scheduler: SchedulerLike;
  /** Every packet this device sent or received, and its drops. */
  readonly counters = new RoceCounterSet();
  readonly #options: ResolvedSoftRoceOptions;
  readonly #eventLog: EventLog | undefined;
  readonly #endpoint: RoceLinkEndpoint;
  readonly #keys: MemoryKeyTable;
  readonly #random: { psn: SeededRandom; commId: SeededRandom; pd: SeededRandom; port: SeededRandom };
  readonly #qps = new Map<number, SoftRoceConnection>();
  readonly #sessions = new Map<number, SessionEntry>();
  /**
   * ib_cm's remote ID and remote QPN tables: connections by the peer's CA GUID and comm ID, and by its CA GUID and
   * QPN, from the REQ (passive) or REP (active) until time-wait. A REQ found in the first is a repeat; in the
   * second, a peer that restarted and reuses a QPN of a connection we still hold (stale).
   */
  readonly #byRemoteId = new Map<string, SessionEntry>();
  readonly #byRemoteQpn = new Map<string, SessionEntry>();
  readonly #listeners = new Map<number, SoftRoceListener>();
  readonly #activePorts = new Set<number>();
  /** The CM session and the REQ behind each request offered to a listener. */
  readonly #requests = new WeakMap<SoftRoceConnectRequest, SessionEntry>();
  readonly #requestReqs = new WeakMap<SoftRoceConnectRequest, CmReq>();
  /** IP/UDP addressing by peer and ports (see #addressing). */
  readonly #addressings = new Map<string, RoceUdpAddressing>();
  #nextQpn = FIRST_QPN;
  #nextPort: number;
  #gsiPsn = 0;
  #tidHigh: bigint;
  #tidLow = 0;
  #closed = false;

  private constructor(options: SoftRoceOptions, endpoint: RoceLinkEndpoint, resolved: ResolvedSoftRoceOptions) {
    this.#options = resolved;
    this.#eventLog = options.eventLog;
    this.#endpoint = endpoint;
    this.address = endpoint.ip;
    this.scheduler = options.scheduler;
    this.caps = resolved.caps;
    const random = new SeededRandom(resolved.seed);
    this.#keys = new MemoryKeyTable(random.fork('keys'));
    this.#random = {
      psn: random.fork('psn'),
      // ib_cm XORs its comm IDs with an operand drawn at module load, so a restarted host does not repeat the
      // IDs of connections its peers may still hold. A device opened at another time is another boot.
      commId: random.fork(`comm-id@${options.scheduler.now()}`),
      pd: random.fork('pd'),
      port: random.fork('port'),
    };
    this.#nextQpn = resolved.firstQpn;
    this.#nextPort = this.#random.port.int(32768, 60999);
    // ib_mad's TIDs: a per-agent high half and a counter.
    this.#tidHigh = BigInt(random.fork('tid').int(1, 0x7fffffff)) << 32n;
  }

  /** Attaches a device at `options.address` to `options.link`. */
  static async open(options: SoftRoceOptions): Promise<SoftRoceProvider> {
    const resolved = resolveOptions(options);
    const device: { provider?: SoftRoceProvider } = {};
    const endpoint = await options.link.attach(options.address, (datagram) => {
      // Datagrams that arrive before the device exists are lost, as on a real port coming up.
      if (device.provider !== undefined) device.provider.#onDatagram(datagram);
    });
    const provider = new SoftRoceProvider(options, endpoint, resolved);
    device.provider = provider;
    provider.#log('device', 'open', { address: provider.address, port: endpoint.port, mtu: resolved.mtu });
    return provider;
  }

  /** A snapshot of the device's counters (all connections, and drops before a QP is known). */
  snapshot(): RoceCounters {
    return this.counters.snapshot();
  }

  /** The UDP port the device receives on (4791 unless it was taken). */
  get port(): number {
    return this.#endpoint.port;
  }

  /** Live connections (established or being torn down), by QP number. */
  get connections(): readonly SoftRoceConnection[] {
    return [...this.#qps.values()];
  }

  // ---- VerbsProvider --------------------------------------------------------------------------------------------

  listen(address: RdmaAddress): Promise<RdmaListener> {
    try {
      this.#assertOpen();
      this.#checkAddress(address);
      const host = WILDCARD.has(address.host) ? address.host : this.#parseHost(address.host);
      if (!WILDCARD.has(host) && host !== this.address) {
        throw new VerbsError(
          'ERR_VERBS_ADDRESS',
          `${address.host} is not the address of this device (${this.address})`,
          {
            errno: 'EADDRNOTAVAIL',
          },
        );
      }
      if (this.#listeners.has(address.port) || (address.port !== 0 && this.#activePorts.has(address.port))) {
        throw new VerbsError('ERR_VERBS_ADDRESS_IN_USE', `${this.address}:${address.port} is already in use`, {
          errno: 'EADDRINUSE',
        });
      }
      const port = address.port === 0 ? this.#allocatePort() : address.port;
      const listener = new SoftRoceListener({ host: address.host, port }, (closed, unanswered) => {
        if (this.#listeners.get(port) === closed) this.#listeners.delete(port);
        this.#log('cm', 'listener-closed', { port, unanswered: unanswered.length });
        // As ib_cm does when a listening cm_id goes away: unanswered requests get a consumer REJ.
        // (One the active side already abandoned needs no REJ: its rejection is ignored.)
        for (const request of unanswered) request.reject().catch(() => undefined);
      });
      this.#listeners.set(port, listener);
      this.#log('cm', 'listen', { port });
      return Promise.resolve(listener);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  connect(address: RdmaAddress, options: ConnectOptions): Promise<RdmaConnection> {
    return new Promise<RdmaConnection>((resolve, reject) => {
      this.#assertOpen();
      this.#checkAddress(address);
      const remoteIp = this.#parseHost(address.host);
      if (ipVersionOf(remoteIp) !== ipVersionOf(this.address)) {
        throw new VerbsError('ERR_VERBS_ADDRESS', `${remoteIp} is not reachable from ${this.address} (IP version)`, {
          errno: 'EAFNOSUPPORT',
        });
      }
      const d = this.#options.defaults;
      const consumerData = checkPrivateData(options.privateData, 'REQ');
      this.#checkQp(options.qp);
      const initiatorDepth = intOption(options.initiatorDepth, d.initiatorDepth, 255, 'initiatorDepth');
      const responderResources = intOption(options.responderResources, d.responderResources, 255, 'responderResources');
      const retryCount = intOption(options.retryCount, d.retryCount, 7, 'retryCount');
      const rnrRetryCount = intOption(options.rnrRetryCount, d.rnrRetryCount, 7, 'rnrRetryCount');
      if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw invalid('timeoutMs must be > 0');
      const qpn = this.#allocateQpn();
      const startingPsn = this.#random.psn.int(0, PSN_MASK);
      const localPort = this.#allocatePort();
      this.#activePorts.add(localPort);
      const localCommId = this.#allocateCommId();
      const req = buildReq({
        localCommId,
        localIp: this.address,
        remoteIp,
        localPort,
        remotePort: address.port,
        qpn,
        startingPsn,
        responderResources,
        initiatorDepth,
        retryCount,
        rnrRetryCount,
        mtu: this.#options.mtu,
        timings: this.#options.cm,
        privateData: consumerData,
      });
      const local: RdmaAddress = { host: this.address, port: localPort };
      const remote: RdmaAddress = { host: address.host, port: address.port };
      let deadline: EdgeTimer | undefined;
      let settled = false;
      const settle = (outcome: SoftRoceConnection | VerbsError): void => {
        if (settled) return;
        settled = true;
        deadline?.cancel();
        if (outcome instanceof VerbsError) {
          this.#activePorts.delete(localPort);
          reject(outcome);
        } else {
          resolve(outcome);
        }
      };
      const where = `${remoteIp}:${address.port}`;
      const owner: CmOwner = {
        established: (rep) => {
          if (rep === undefined) return;
          this.#linkRemote(entry, remoteKeysOf(remoteIp, rep.localCaGuid, rep.localCommId, rep.localQpn));
          const connection = this.#createConnection(entry, {
            local,
            remote,
            remoteIp,
            peerPrivateData: rep.privateData,
            caps: options.qp,
            ready: true,
            attributes: {
              qpn,
              destQpn: rep.localQpn,
              // Linux ib_cm: a REQ's or REP's Starting PSN is the PSN its sender expects to receive (cm.c
              // rq_psn from its own message, sq_psn from the peer's), so our sends start at the REP's.
              sqPsn: rep.startingPsn,
              rqPsn: startingPsn,
              mtu: this.#options.mtu,
              timeout: this.#options.ackTimeout,
              retryCount,
              rnrRetry: rep.rnrRetryCount,
              minRnrTimer: this.#options.minRnrTimer,
              maxRdAtomic: Math.min(initiatorDepth, rep.responderResources),
              maxDestRdAtomic: responderResources,
            },
          });
          settle(connection);
        },
        failed: (failure) => {
          settle(
            failure.kind === 'timeout'
              ? new VerbsError('ERR_VERBS_TIMEOUT', `no answer from ${where} to the CM REQ`, { errno: 'ETIMEDOUT' })
              : failure.kind === 'unreachable'
                ? new VerbsError('ERR_VERBS_UNREACHABLE', `nobody listens on ${where} (REJ: invalid service ID)`, {
                    errno: 'ECONNREFUSED',
                  })
                : rejection(where, failure.rej),
          );
        },
        disconnected: () => {
          entry.connection?.teardown();
        },
      };
      const { session, actions } = CmSession.connect(this.#cmContext(), req);
      const entry = this.#addSession(session, remoteIp, owner);
      this.#log('cm', 'connect', { to: where, qpn, commId: localCommId, startingPsn });
      if (options.timeoutMs !== undefined) {
        const timeoutMs = options.timeoutMs;
        deadline = new EdgeTimer(this.scheduler, () => {
          this.#runCm(entry, session.abandon());
          settle(
            new VerbsError('ERR_VERBS_TIMEOUT', `the CM handshake with ${where} took over ${timeoutMs} ms`, {
              errno: 'ETIMEDOUT',
            }),
          );
        });
        deadline.arm(timeoutMs);
      }
      this.#runCm(entry, actions);
    });
  }

  /** Tears every connection down (sending DREQs), closes the listeners, stops every timer, detaches. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const listener of [...this.#listeners.values()]) await listener.close();
    for (const entry of [...this.#sessions.values()]) {
      if (entry.connection !== undefined && !entry.connection.closed) {
        this.#runCm(entry, entry.session.disconnect());
        entry.connection.teardown();
      }
    }
    this.#closed = true;
    for (const entry of this.#sessions.values()) entry.timer.cancel();
    this.#sessions.clear();
    this.#byRemoteId.clear();
    this.#byRemoteQpn.clear();
    this.#qps.clear();
    this.#log('device', 'close', {});
    await this.#endpoint.close();
  }

  // ---- ConnectRequestHost ---------------------------------------------------------------------------------------

  /** Accepts a request: creates the passive QP and sends the REP. */
  accept(request: SoftRoceConnectRequest, options: AcceptOptions): SoftRoceConnection {
    this.#assertOpen();
    const entry = this.#requests.get(request);
    if (entry === undefined) throw new VerbsError('ERR_VERBS_CLOSED', 'this connect request is gone');
    const req = this.#requestReqs.get(request);
    if (req === undefined) throw new VerbsError('ERR_VERBS_CLOSED', 'this connect request is gone');
    const d = this.#options.defaults;
    this.#checkQp(options.qp);
    const privateData = checkPrivateData(options.privateData, 'REP');
    const initiatorDepth = intOption(options.initiatorDepth, d.initiatorDepth, 255, 'initiatorDepth');
    const responderResources = intOption(options.responderResources, d.responderResources, 255, 'responderResources');
    const rnrRetryCount = intOption(options.rnrRetryCount, d.rnrRetryCount, 7, 'rnrRetryCount');
    intOption(options.retryCount, d.retryCount, 7, 'retryCount'); // checked; the REQ's count applies (rdma_cm)
    const qpn = this.#allocateQpn();
    const startingPsn = this.#random.psn.int(0, PSN_MASK);
    const connection = this.#createConnection(entry, {
      local: request.local,
      remote: request.remote,
      remoteIp: entry.peerIp,
      peerPrivateData: request.privateData,
      caps: options.qp,
      ready: false,
      attributes: {
        qpn,
        destQpn: req.localQpn,
        // As ib_cm: we send from the REQ's Starting PSN and expect ours (the REP's) on receive.
        sqPsn: req.startingPsn,
        rqPsn: startingPsn,
        mtu: (ibMtuBytes(req.pathMtu) ?? this.#options.mtu) as PathMtu,
        timeout: this.#options.ackTimeout,
        retryCount: req.retryCount,
        rnrRetry: req.rnrRetryCount,
        minRnrTimer: this.#options.minRnrTimer,
        maxRdAtomic: Math.min(initiatorDepth, req.responderResources),
        maxDestRdAtomic: responderResources,
      },
    });
    const rep = buildRep({
      localCommId: entry.session.localCommId,
      remoteCommId: entry.session.remoteCommId,
      localIp: this.address,
      qpn,
      startingPsn,
      responderResources,
      initiatorDepth,
      rnrRetryCount,
      privateData,
    });
    this.#log('cm', 'accept', { commId: entry.session.localCommId, qpn, startingPsn });
    this.#runCm(entry, entry.session.accept(rep));
    return connection;
  }

  /** Rejects a request with the consumer's reason. */
  reject(request: SoftRoceConnectRequest, privateData: Buffer): void {
    const entry = this.#requests.get(request);
    if (entry === undefined) throw new VerbsError('ERR_VERBS_CLOSED', 'this connect request is gone');
    const data = checkPrivateData(privateData, 'REJ');
    this.#log('cm', 'reject', { commId: entry.session.localCommId, privateData: data.length });
    this.#runCm(entry, entry.session.reject(data));
  }

  // ---- ConnectionHost -------------------------------------------------------------------------------------------

  transmit(connection: SoftRoceConnection, packet: RocePacket): void {
    this.#transmit(connection.remoteIp, connection.udpSourcePort, packet, connection);
  }

  disconnectCm(connection: SoftRoceConnection): void {
    const entry = this.#entryOf(connection);
    if (entry !== undefined) this.#runCm(entry, entry.session.disconnect());
  }

  communicationEstablished(connection: SoftRoceConnection): void {
    const entry = this.#entryOf(connection);
    if (entry !== undefined) this.#runCm(entry, entry.session.communicationEstablished());
  }

  log(connection: SoftRoceConnection, type: string, fields: Readonly<Record<string, number | string | boolean>>): void {
    this.#log(`qp-${connection.qpn}`, type, fields);
  }

  // ---- Wire -----------------------------------------------------------------------------------------------------

  /** IP/UDP addressing of a packet to or from `peerIp` (cached: the ICRC needs it for every packet). */
  #addressing(peerIp: string, srcPort: number, dstPort: number, outbound: boolean): RoceUdpAddressing {
    const key = `${outbound ? '>' : '<'}${peerIp}|${srcPort}|${dstPort}`;
    let addressing = this.#addressings.get(key);
    if (addressing === undefined) {
      const version = ipVersionOf(this.address);
      const bytes = (ip: string): Buffer => (version === 4 ? ipv4Bytes(ip) : ipv6Bytes(ip));
      const [src, dst] = outbound ? [bytes(this.address), bytes(peerIp)] : [bytes(peerIp), bytes(this.address)];
      addressing = {
        ip: version === 4 ? { version: 4, src, dst, id: 0, df: true } : { version: 6, src, dst },
        srcPort,
        dstPort,
      };
      // Bounded: a hostile sender varying its source port must not grow this without end.
      if (this.#addressings.size >= 1024) this.#addressings.clear();
      this.#addressings.set(key, addressing);
    }
    return addressing;
  }

  #transmit(peerIp: string, preferredPort: number, packet: RocePacket, connection?: SoftRoceConnection): void {
    if (this.#closed) return;
    const srcPort = this.#endpoint.sourcePort(preferredPort);
    const dstPort = this.#endpoint.destinationPort(peerIp);
    const payload = encodeRoceUdpPayload(packet, this.#addressing(peerIp, srcPort, dstPort, true), this.#options.icrc);
    if (connection !== undefined) connection.counting.sent(packet.bth.opcode, payload.length);
    else this.counters.sent(packet.bth.opcode, payload.length);
    if (this.#options.logPackets) this.#logPacket('tx', peerIp, packet);
    this.#endpoint.send({ srcIp: this.address, srcPort, dstIp: peerIp, dstPort, payload });
  }

  #onDatagram(datagram: RoceDatagram): void {
    if (this.#closed) return;
    const addressing = this.#addressing(datagram.srcIp, datagram.srcPort, datagram.dstPort, false);
    let packet: RocePacket;
    try {
      packet = decodeRoceUdpPayload(datagram.payload, addressing, this.#options.icrc);
    } catch (error) {
      const icrc = isIserError(error, 'ERR_ROCE_ICRC_MISMATCH');
      this.counters.events[icrc ? 'icrcDrops' : 'malformedDrops']++;
      this.#log('device', icrc ? 'drop-icrc' : 'drop-malformed', {
        from: datagram.srcIp,
        reason: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const { bth } = packet;
    const connection = bth.destQp === GSI_QPN ? undefined : this.#qps.get(bth.destQp);
    if (connection !== undefined) connection.counting.received(bth.opcode, datagram.payload.length);
    else this.counters.received(bth.opcode, datagram.payload.length);
    if (this.#options.logPackets) this.#logPacket('rx', datagram.srcIp, packet);
    if (bth.tver !== 0 || bth.pkey !== DEFAULT_PKEY || bth.destQp === 0) {
      this.#drop('malformedDrops', datagram.srcIp, 'TVer, P_Key or QPN 0');
      return;
    }
    if (bth.destQp === GSI_QPN) {
      this.#onGsi(packet, datagram.srcIp);
      return;
    }
    if (connection === undefined) {
      this.#drop('unknownQpDrops', datagram.srcIp, `no QP 0x${bth.destQp.toString(16)}`);
      return;
    }
    if (connection.remoteIp !== datagram.srcIp || opcodeInfo(bth.opcode)?.transport !== 'RC') {
      this.#drop('malformedDrops', datagram.srcIp, 'not from the QP’s peer, or not RC');
      return;
    }
    connection.receive(packet);
  }

  #drop(counter: 'malformedDrops' | 'unknownQpDrops', from: string, reason: string): void {
    this.counters.events[counter]++;
    this.#log('device', 'drop', { from, reason });
  }

  // ---- Connection management on QP1 -----------------------------------------------------------------------------

  #onGsi(packet: RocePacket, from: string): void {
    let message: CmMessage;
    let tid: bigint;
    try {
      const decoded = decodeCmMad(madFromGsiPacket(packet));
      message = decoded.message;
      tid = decoded.header.tid;
    } catch (error) {
      this.#drop('malformedDrops', from, error instanceof Error ? error.message : String(error));
      return;
    }
    this.#log('cm', 'recv', { kind: message.kind, from, tid: `0x${tid.toString(16)}` });
    switch (message.kind) {
      case 'REQ':
        this.#onReq(message, tid, from);
        return;
      case 'REP':
      case 'RTU':
      case 'MRA':
      case 'REJ':
      case 'DREQ':
      case 'DREP': {
        const entry = this.#sessions.get(message.remoteCommId) ?? this.#rejectedByTimeout(message, from);
        if (entry !== undefined && entry.peerIp === from) {
          this.#runCm(entry, entry.session.receive(message, tid));
        } else if (message.kind === 'REP') {
          // ib_cm: a REP for no connection gets a REJ "invalid comm ID".
          this.#sendStatelessRej(from, tid, message.localCommId, CmMessageRef.REP, CmRejectReason.InvalidCommId);
        } else if (message.kind === 'DREQ') {
          this.#sendMad(from, tid, {
            kind: 'DREP',
            localCommId: message.remoteCommId,
            remoteCommId: message.localCommId,
            privateData: Buffer.alloc(0),
          });
        }
        return;
      }
      default:
        return;
    }
  }

  /** ib_cm `cm_acquire_rejected_id`: a timeout REJ names its sender by CA GUID (in the ARI) and comm ID. */
  #rejectedByTimeout(message: CmMessage, from: string): SessionEntry | undefined {
    if (message.kind !== 'REJ' || message.reason !== CmRejectReason.Timeout || message.ari.length < 8) return undefined;
    return this.#byRemoteId.get(remoteKeysOf(from, message.ari.readBigUInt64BE(0), message.localCommId, 0).id);
  }

  /** ib_cm `cm_match_req`: a repeated REQ, then a stale one, then a listener. */
  #onReq(req: CmReq, tid: bigint, from: string): void {
    const keys = remoteKeysOf(from, req.localCaGuid, req.localCommId, req.localQpn);
    const existing = this.#byRemoteId.get(keys.id);
    if (existing !== undefined) {
      this.#runCm(existing, existing.session.receive(req, tid));
      return;
    }
    const rejectReq = (reason: number, why: string): void => {
      this.#log('cm', 'req-refused', { from, why });
      this.#sendStatelessRej(from, tid, req.localCommId, CmMessageRef.REQ, reason);
    };
    const stale = this.#byRemoteQpn.get(keys.qpn);
    if (stale !== undefined) {
      // The peer restarted and reuses the QPN of a connection we still hold: REJ "stale connection" for the new
      // REQ, and a DREQ for the old connection if it is established.
      rejectReq(CmRejectReason.StaleConnection, `QPN 0x${req.localQpn.toString(16)} is still in use`);
      this.#runCm(stale, stale.session.staleConnection());
      return;
    }
    const service = parseRdmaCmServiceId(req.serviceId);
    let cma: ReturnType<typeof decodeRdmaCmReqPrivateData>;
    try {
      cma = decodeRdmaCmReqPrivateData(req.privateData);
    } catch {
      rejectReq(CmRejectReason.InvalidServiceId, 'no rdma_cm IP header');
      return;
    }
    const listener = service?.portSpace === RdmaPortSpace.TCP ? this.#listeners.get(service.port) : undefined;
    const dst = safeCanonical(cma.cma.dstAddr);
    if (listener === undefined || listener.closed || (!WILDCARD.has(listener.address.host) && dst !== this.address)) {
      rejectReq(CmRejectReason.InvalidServiceId, `nobody listens on port ${service?.port ?? '?'}`);
      return;
    }
    if (req.transportServiceType !== CmTransportServiceType.RC || ibMtuBytes(req.pathMtu) === undefined) {
      rejectReq(CmRejectReason.InvalidTransportType, 'not an RC REQ with a valid path MTU');
      return;
    }
    const session = CmSession.incoming(this.#cmContext(), this.#allocateCommId(), req, tid);
    const request = new SoftRoceConnectRequest(this, {
      remote: { host: safeCanonical(cma.cma.srcAddr) ?? from, port: cma.cma.srcPort },
      local: { host: this.address, port: listener.address.port },
      privateData: cma.consumer,
      initiatorDepth: req.initiatorDepth,
      responderResources: req.responderResources,
    });
    const entry = this.#addSession(session, from, request);
    this.#linkRemote(entry, keys);
    this.#requests.set(request, entry);
    this.#requestReqs.set(request, req);
    this.#log('cm', 'connect-request', { from, port: listener.address.port, commId: session.localCommId });
    listener.offer(request);
  }

  #sendStatelessRej(to: string, tid: bigint, remoteCommId: number, ref: number, reason: number): void {
    const rej: CmRej = {
      kind: 'REJ',
      localCommId: 0,
      remoteCommId,
      messageRejected: ref,
      reason,
      ari: Buffer.alloc(0),
      privateData: Buffer.alloc(0),
    };
    this.#sendMad(to, tid, rej);
  }

  #sendMad(to: string, tid: bigint, message: CmMessage): void {
    this.#log('cm', 'send', { kind: message.kind, to, tid: `0x${tid.toString(16)}` });
    const packet = gsiPacket(encodeCmMad({ tid, message }), { psn: this.#gsiPsn });
    this.#gsiPsn = (this.#gsiPsn + 1) & PSN_MASK;
    this.#transmit(to, qpSourcePort(GSI_QPN), packet);
  }

  #cmContext(): CmSessionContext {
    return {
      timings: this.#options.cm,
      localCaGuid: caGuidFor(this.address),
      nextTid: () => {
        this.#tidLow = (this.#tidLow + 1) >>> 0;
        return this.#tidHigh | BigInt(this.#tidLow);
      },
    };
  }

  #addSession(session: CmSession, peerIp: string, owner: CmOwner): SessionEntry {
    const entry: SessionEntry = {
      session,
      peerIp,
      owner,
      connection: undefined,
      remoteKeys: undefined,
      timer: new EdgeTimer(this.scheduler, () => {
        this.#runCm(entry, session.timerExpired());
      }),
    };
    this.#sessions.set(session.localCommId, entry);
    return entry;
  }

  #linkRemote(entry: SessionEntry, keys: { readonly id: string; readonly qpn: string }): void {
    entry.remoteKeys = keys;
    this.#byRemoteId.set(keys.id, entry);
    this.#byRemoteQpn.set(keys.qpn, entry);
  }

  /** ib_cm `cm_remove_remote`, done on entering time-wait: a REQ that repeats the connection is then a new one. */
  #unlinkRemote(entry: SessionEntry): void {
    const keys = entry.remoteKeys;
    if (keys === undefined) return;
    if (this.#byRemoteId.get(keys.id) === entry) this.#byRemoteId.delete(keys.id);
    if (this.#byRemoteQpn.get(keys.qpn) === entry) this.#byRemoteQpn.delete(keys.qpn);
  }

  #runCm(entry: SessionEntry, actions: readonly CmAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'send':
          this.#sendMad(entry.peerIp, action.tid, action.message);
          break;
        case 'arm-timer':
          entry.timer.arm(action.delayMs);
          break;
        case 'cancel-timer':
          entry.timer.cancel();
          break;
        case 'established':
          this.#log('cm', 'established', { commId: entry.session.localCommId, peer: entry.peerIp });
          entry.owner.established(action.rep);
          break;
        case 'failed':
          this.#log('cm', 'failed', { commId: entry.session.localCommId, kind: action.failure.kind });
          entry.owner.failed(action.failure);
          break;
        case 'disconnected':
          this.#log('cm', 'disconnected', { commId: entry.session.localCommId });
          entry.owner.disconnected();
          break;
        case 'closed':
          this.#forget(entry);
          break;
      }
    }
    const state = entry.session.state;
    if (state === 'timewait' || state === 'closed') this.#unlinkRemote(entry);
  }

  #forget(entry: SessionEntry): void {
    entry.timer.cancel();
    if (this.#sessions.get(entry.session.localCommId) === entry) this.#sessions.delete(entry.session.localCommId);
    this.#unlinkRemote(entry);
    const connection = entry.connection;
    if (connection !== undefined) {
      connection.teardown();
      if (this.#qps.get(connection.qpn) === connection) this.#qps.delete(connection.qpn);
      if (connection.local.host === this.address) this.#activePorts.delete(connection.local.port);
    }
  }

  #entryOf(connection: SoftRoceConnection): SessionEntry | undefined {
    for (const entry of this.#sessions.values()) if (entry.connection === connection) return entry;
    return undefined;
  }

  #createConnection(
    entry: SessionEntry,
    init: {
      local: RdmaAddress;
      remote: RdmaAddress;
      remoteIp: string;
      peerPrivateData: Buffer;
      caps: QpCapabilities;
      ready: boolean;
      attributes: RcQpAttributes;
    },
  ): SoftRoceConnection {
    const qpn = init.attributes.qpn;
    const connection = new SoftRoceConnection({
      ...init,
      host: this,
      pd: new SoftRoceProtectionDomain(this.#keys, this.#random.pd.fork(`qp-${qpn}`)),
      udpSourcePort: rcSourcePort(qpn, init.attributes.destQpn),
    });
    entry.connection = connection;
    this.#qps.set(qpn, connection);
    return connection;
  }

  // ---- Allocation, checks, logging ------------------------------------------------------------------------------

  #allocateQpn(): number {
    for (;;) {
      const qpn = this.#nextQpn;
      this.#nextQpn = qpn >= 0xffffff ? FIRST_QPN : qpn + 1;
      if (!this.#qps.has(qpn)) return qpn;
    }
  }

  #allocateCommId(): number {
    for (;;) {
      const id = this.#random.commId.int(1, 0xffffffff);
      if (!this.#sessions.has(id)) return id;
    }
  }

  #allocatePort(): number {
    for (let i = 0; i < 30000; i++) {
      const port = this.#nextPort;
      this.#nextPort = port >= 60999 ? 32768 : port + 1;
      if (!this.#listeners.has(port) && !this.#activePorts.has(port)) return port;
    }
    throw new VerbsError('ERR_VERBS_ADDRESS_IN_USE', 'no free rdma_cm port left', { errno: 'EADDRINUSE' });
  }

  #assertOpen(): void {
    if (this.#closed) throw new VerbsError('ERR_VERBS_CLOSED', `soft-RoCE device ${this.address} is closed`);
  }

  #checkAddress(address: RdmaAddress): void {
    if (typeof address.host !== 'string' || address.host === '')
      throw invalid('address.host must be a non-empty string');
    if (!Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
      throw invalid(`address.port must be an integer in 0..65535, got ${address.port}`);
    }
  }

  #parseHost(host: string): string {
    const ip = safeCanonical(host);
    if (ip === undefined) {
      throw new VerbsError('ERR_VERBS_ADDRESS', `${host} is not an IP address (soft-RoCE resolves no names)`, {
        errno: 'EINVAL',
      });
    }
    return ip;
  }

  #checkQp(qp: QpCapabilities): void {
    const within = (value: number, max: number, name: string): void => {
      if (!Number.isInteger(value) || value < 0 || value > max)
        throw invalid(`${name} must be an integer in 0..${max}`);
    };
    within(qp.maxSendWr, this.caps.maxQpWr, 'qp.maxSendWr');
    within(qp.maxRecvWr, this.caps.maxQpWr, 'qp.maxRecvWr');
    within(qp.maxSendSge, this.caps.maxSge, 'qp.maxSendSge');
    within(qp.maxRecvSge, this.caps.maxSge, 'qp.maxRecvSge');
  }

  #log(source: string, type: string, fields: Readonly<Record<string, EventValue>>): void {
    this.#eventLog?.record(`softroce/${this.address}/${source}`, type, fields);
  }

  #logPacket(direction: 'tx' | 'rx', peer: string, packet: RocePacket): void {
    this.#log('wire', direction, {
      peer,
      opcode: opcodeInfo(packet.bth.opcode)?.name ?? packet.bth.opcode,
      qp: packet.bth.destQp,
      psn: packet.bth.psn,
      ackReq: packet.bth.ackReq,
      bytes: packet.payload.length,
    });
  }
}

/** A connection's keys in the remote tables: peer address and CA GUID with its comm ID, and with its QPN. */
function remoteKeysOf(from: string, caGuid: bigint, commId: number, qpn: number): { id: string; qpn: string } {
  const peer = `${from}|${caGuid.toString(16)}`;
  return { id: `${peer}|${commId}`, qpn: `${peer}|qpn ${qpn}` };
}

function safeCanonical(host: string): string | undefined {
  try {
    return canonicalIp(host);
  } catch {
    return undefined;
  }
}

/**
 * ERR_VERBS_REJECTED from soft-RoCE, with the CM's reject reason (rdma_cm reports it as the REJECTED event's
 * status): 28 is the consumer's own rejection, 10 a peer that still holds a connection from our QP number.
 */
export class CmRejectedError extends VerbsError {
  /** The IBA reject reason (`CmRejectReason`). */
  readonly rejectReason: number;

  constructor(where: string, rej: CmRej) {
    super(
      'ERR_VERBS_REJECTED',
      `${where} rejected the connection: ${cmRejectReasonText(rej.reason)} (REJ reason ${rej.reason})`,
      { errno: 'ECONNREFUSED', privateData: rej.privateData },
    );
    this.rejectReason = rej.reason;
  }
}

function rejection(where: string, rej: CmRej): VerbsError {
  return new CmRejectedError(where, rej);
}
