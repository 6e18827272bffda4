/**
 * One soft-RoCE connection (an `rdma_cm_id` with its RC QP, CQ and PD), implementing {@link RdmaConnection}:
 * the RxJS edge around the sans-IO {@link RcQueuePair}. It checks work requests, hands them to the engine, puts
 * the engine's packets on the wire through its device, runs the engine's timers on the injected scheduler, and
 * turns completions and QP errors into the `completions` and `events` streams.
 *
 * Consumer calls never emit synchronously: work requests reach the engine in a microtask (in order), so a
 * completion handler may post again without re-entering the engine.
 */
import { Subject } from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import { VerbsError } from '../../../transports/verbs.js';
import type {
  ConnectionEvent,
  QpCapabilities,
  QpState,
  RdmaAddress,
  RdmaConnection,
  RecvWorkRequest,
  SendWorkRequest,
  Sge,
  VerbsCapabilities,
  WorkCompletion,
} from '../../../transports/verbs.js';
import type { RocePacket } from '../packet.js';
import type { RcAction } from '../rc/actions.js';
import type { RcQpAttributes } from '../rc/attributes.js';
import { CounterFanout, RoceCounterSet, type RoceCounters } from '../rc/counters.js';
import { SoftRoceMemoryRegion, type SoftRoceProtectionDomain } from '../rc/memory-region.js';
import { RcQueuePair } from '../rc/queue-pair.js';
import { EdgeTimer } from './edge-timer.js';

/** What a connection needs from its device. */
export interface ConnectionHost {
  readonly scheduler: SchedulerLike;
  readonly caps: VerbsCapabilities;
  /** The device's counters (a connection counts into both). */
  readonly counters: RoceCounterSet;
  /** Puts one of this connection's packets on the wire. */
  transmit(connection: SoftRoceConnection, packet: RocePacket): void;
  /** Local disconnect: the CM sends its DREQ. */
  disconnectCm(connection: SoftRoceConnection): void;
  /** Passive side: a packet arrived before the RTU (IB `COMM_EST`). */
  communicationEstablished(connection: SoftRoceConnection): void;
  /** Logs an event of this connection. */
  log(connection: SoftRoceConnection, type: string, fields: Readonly<Record<string, number | string | boolean>>): void;
}

/** Everything a connection is created with. */
export interface ConnectionInit {
  readonly host: ConnectionHost;
  readonly local: RdmaAddress;
  readonly remote: RdmaAddress;
  /** The peer's IP address in canonical form (packets from elsewhere are dropped). */
  readonly remoteIp: string;
  readonly peerPrivateData: Buffer;
  readonly pd: SoftRoceProtectionDomain;
  readonly caps: QpCapabilities;
  readonly attributes: RcQpAttributes;
  /** The UDP source port rxe would give this QP. */
  readonly udpSourcePort: number;
  /** The active side starts in RTS; the passive side in RTR until the RTU. */
  readonly ready: boolean;
}

function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** A soft-RoCE RC connection. */
export class SoftRoceConnection implements RdmaConnection {
  readonly local: RdmaAddress;
  readonly remote: RdmaAddress;
  readonly remoteIp: string;
  readonly peerPrivateData: Buffer;
  readonly pd: SoftRoceProtectionDomain;
  readonly completions: Observable<WorkCompletion>;
  readonly events: Observable<ConnectionEvent>;
  /** Our QP number. */
  readonly qpn: number;
  /** The UDP source port of our packets (before the link's own choice). */
  readonly udpSourcePort: number;
  readonly #host: ConnectionHost;
  readonly #caps: QpCapabilities;
  readonly #engine: RcQueuePair;
  readonly #counters = new RoceCounterSet();
  /** Bumps this connection's counters and its device's. */
  readonly counting: CounterFanout;
  readonly #completions = new Subject<WorkCompletion>();
  readonly #events = new Subject<ConnectionEvent>();
  readonly #timers: { readonly retransmit: EdgeTimer; readonly rnr: EdgeTimer };
  #awaitingRtu: boolean;
  #closing = false;
  #closed = false;
  #queuedSends = 0;
  #queuedRecvs = 0;
  #deferred: (() => void)[] = [];
  #errorReported = false;

  /** A connection whose QP runs `init.attributes`. */
  constructor(init: ConnectionInit) {
    this.#host = init.host;
    this.local = init.local;
    this.remote = init.remote;
    this.remoteIp = init.remoteIp;
    this.peerPrivateData = init.peerPrivateData;
    this.pd = init.pd;
    this.#caps = init.caps;
    this.qpn = init.attributes.qpn;
    this.udpSourcePort = init.udpSourcePort;
    this.counting = new CounterFanout([this.#counters, init.host.counters]);
    this.#engine = new RcQueuePair(init.attributes, init.pd, this.counting);
    this.completions = this.#completions.asObservable();
    this.events = this.#events.asObservable();
    const scheduler = init.host.scheduler;
    this.#timers = {
      retransmit: new EdgeTimer(scheduler, () => {
        this.#apply(this.#engine.timerExpired('retransmit'));
      }),
      rnr: new EdgeTimer(scheduler, () => {
        this.#apply(this.#engine.timerExpired('rnr'));
      }),
    };
    this.#awaitingRtu = !init.ready;
    if (init.ready) this.#apply(this.#engine.readyToSend());
  }

  get state(): QpState {
    return this.#closed ? 'ERROR' : this.#engine.state;
  }

  /** The attributes the QP runs with. */
  get attributes(): RcQpAttributes {
    return this.#engine.attributes;
  }

  /** This connection's counters. */
  get counters(): RoceCounters {
    return this.#counters.snapshot();
  }

  /** True once torn down. */
  get closed(): boolean {
    return this.#closed;
  }

  // ---- Consumer calls -------------------------------------------------------------------------------------------

  postSend(wrs: readonly SendWorkRequest[]): void {
    this.#assertOpen();
    for (const wr of wrs) this.#checkSend(wr);
    const outstanding = this.#engine.outstandingSends + this.#queuedSends;
    if (outstanding + wrs.length > this.#caps.maxSendWr) {
      throw new VerbsError(
        'ERR_VERBS_QUEUE_FULL',
        `send queue holds ${this.#caps.maxSendWr} work requests; ${outstanding} outstanding, ${wrs.length} posted`,
        { errno: 'ENOMEM' },
      );
    }
    const batch = [...wrs];
    this.#queuedSends += batch.length;
    this.#defer(() => {
      this.#queuedSends -= batch.length;
      this.#apply(this.#engine.postSend(batch));
    });
  }

  postRecv(wrs: readonly RecvWorkRequest[]): void {
    this.#assertOpen();
    for (const wr of wrs) {
      this.#checkWrId(wr.wrId);
      this.#checkSgl(wr.sgl, this.#caps.maxRecvSge);
    }
    const outstanding = this.#engine.outstandingRecvs + this.#queuedRecvs;
    if (outstanding + wrs.length > this.#caps.maxRecvWr) {
      throw new VerbsError(
        'ERR_VERBS_QUEUE_FULL',
        `receive queue holds ${this.#caps.maxRecvWr} work requests; ${outstanding} posted, ${wrs.length} more`,
        { errno: 'ENOMEM' },
      );
    }
    const batch = [...wrs];
    this.#queuedRecvs += batch.length;
    this.#defer(() => {
      this.#queuedRecvs -= batch.length;
      this.#apply(this.#engine.postRecv(batch));
    });
  }

  disconnect(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closing = true;
    return new Promise((resolve) => {
      // After the work requests posted before it, like a drain.
      this.#defer(() => {
        if (!this.#closed) {
          this.#host.log(this, 'disconnect', {});
          this.#host.disconnectCm(this);
          this.teardown();
        }
        resolve();
      });
    });
  }

  // ---- Device calls ---------------------------------------------------------------------------------------------

  /** A packet for this QP arrived (its ICRC, QPN and addresses are checked). */
  receive(packet: RocePacket): void {
    if (this.#closed) return;
    if (this.#awaitingRtu) this.#host.communicationEstablished(this);
    this.#apply(this.#engine.receive(packet));
  }

  /** The CM established the connection: the QP moves to RTS. */
  readyToSend(): void {
    this.#awaitingRtu = false;
    if (!this.#closed) this.#apply(this.#engine.readyToSend());
  }

  /** Ends the connection: the QP goes to ERROR, everything is flushed, the streams complete. */
  teardown(): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#apply(this.#engine.toError());
    this.#closed = true;
    this.#timers.retransmit.cancel();
    this.#timers.rnr.cancel();
    this.#deferred = [];
    this.#events.next({ type: 'disconnected' });
    this.#events.complete();
    this.#completions.complete();
    this.pd.close();
  }

  // ---- Internals ------------------------------------------------------------------------------------------------

  #defer(work: () => void): void {
    this.#deferred.push(work);
    if (this.#deferred.length > 1) return;
    queueMicrotask(() => {
      for (let i = 0; i < this.#deferred.length; i++) this.#deferred[i]?.();
      this.#deferred = [];
    });
  }

  #apply(actions: readonly RcAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'transmit':
          this.#host.transmit(this, action.packet);
          break;
        case 'complete':
          this.#completions.next(action.wc);
          break;
        case 'arm-timer':
          this.#timers[action.timer].arm(action.delayMs);
          break;
        case 'cancel-timer':
          this.#timers[action.timer].cancel();
          break;
        case 'qp-error':
          this.#host.log(this, 'qp-error', { status: action.status });
          if (!this.#errorReported) {
            this.#errorReported = true;
            this.#events.next({ type: 'qp-error', status: action.status });
          }
          break;
        case 'note':
          this.#host.log(this, action.event, action.fields);
          break;
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed || this.#closing)
      throw new VerbsError('ERR_VERBS_CLOSED', `QP 0x${this.qpn.toString(16)} is closed`);
  }

  #invalid(message: string): VerbsError {
    return new VerbsError('ERR_VERBS_INVALID_WR', message, { errno: 'EINVAL' });
  }

  #checkWrId(wrId: number): void {
    if (!Number.isSafeInteger(wrId)) throw this.#invalid(`wrId must be a safe integer, got ${wrId}`);
  }

  #checkSgl(sgl: readonly Sge[], maxSge: number): void {
    if (sgl.length > maxSge) throw this.#invalid(`${sgl.length} SGEs, the queue takes at most ${maxSge}`);
    let total = 0;
    for (const { mr, offset, length } of sgl) {
      if (!(mr instanceof SoftRoceMemoryRegion) || mr.pd !== this.pd) {
        throw this.#invalid('an SGE names a region not registered in this connection’s protection domain');
      }
      if (!mr.valid) throw this.#invalid(`an SGE names a deregistered or invalidated region (lkey ${mr.lkey})`);
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
        throw this.#invalid(`SGE offset and length must be integers >= 0, got ${offset} and ${length}`);
      }
      if (offset + length > mr.length) {
        throw this.#invalid(`SGE [${offset}, ${offset + length}) lies outside its ${mr.length}-byte region`);
      }
      total += length;
    }
    if (total > this.#host.caps.maxMessageSize) {
      throw this.#invalid(`message of ${total} bytes exceeds the ${this.#host.caps.maxMessageSize}-byte maximum`);
    }
  }

  #checkSend(wr: SendWorkRequest): void {
    this.#checkWrId(wr.wrId);
    this.#checkSgl(wr.sgl, this.#caps.maxSendSge);
    switch (wr.opcode) {
      case 'SEND':
        break;
      case 'SEND_WITH_INV':
        if (!isUint32(wr.invalidateRkey)) throw this.#invalid(`invalidateRkey ${wr.invalidateRkey} is not a u32`);
        break;
      case 'RDMA_WRITE':
      case 'RDMA_READ':
        if (!isUint32(wr.rkey)) throw this.#invalid(`rkey ${wr.rkey} is not a u32`);
        if (wr.remoteAddr < 0n || wr.remoteAddr >= 1n << 64n) throw this.#invalid('remoteAddr is not a u64');
        break;
      default:
        throw this.#invalid(`unknown opcode ${(wr as { opcode: string }).opcode}`);
    }
  }
}
