/**
 * An established RC connection over the addon: one rdma_cm id, its QP, one CQ for both queues, one PD.
 *
 * Work requests get internal ids so that every completion maps back to the caller's wrId, queue and opcode
 * (a flushed completion's own opcode is meaningless). Unsignaled sends that succeed never complete on their
 * own: a later send completion retires them, because a send queue completes in order.
 */
import { type Observable, type SchedulerLike, Subject, type Subscription } from 'rxjs';
import {
  type ConnectionEvent,
  type QpCapabilities,
  type QpState,
  type RdmaAddress,
  type RdmaConnection,
  type RecvWorkRequest,
  type SendWorkRequest,
  type Sge,
  VerbsError,
  type WcOpcode,
  type WcStatus,
  type WorkCompletion,
} from '../transports/verbs.js';
import type {
  Addon,
  AddonCmEvent,
  AddonCmId,
  AddonCq,
  AddonMr,
  AddonMw,
  AddonPd,
  AddonSendWr,
  AddonSge,
  AddonWc,
} from './addon.js';
import { addonErrorInfo } from './addon.js';
import type { CmRouter } from './cm-router.js';
import { NativeProtectionDomain } from './memory.js';

const WC_STATUSES: ReadonlySet<string> = new Set<WcStatus>([
  'SUCCESS',
  'LOC_LEN_ERR',
  'LOC_QP_OP_ERR',
  'LOC_PROT_ERR',
  'WR_FLUSH_ERR',
  'BAD_RESP_ERR',
  'LOC_ACCESS_ERR',
  'REM_INV_REQ_ERR',
  'REM_ACCESS_ERR',
  'REM_OP_ERR',
  'RETRY_EXC_ERR',
  'RNR_RETRY_EXC_ERR',
  'REM_ABORT_ERR',
  'FATAL_ERR',
  'RESP_TIMEOUT_ERR',
  'GENERAL_ERR',
]);

/** `IBV_WC_WITH_INV`. */
const WC_WITH_INV = 1 << 3;
/** rxe hands user space the kernel's IB_WC_WITH_INVALIDATE bit (1 << 2) instead of IBV_WC_WITH_INV. */
const RXE_WC_WITH_INVALIDATE = 1 << 2;

interface Tracked {
  readonly wrId: number;
  readonly queue: 'send' | 'recv' | 'internal';
  readonly opcode: WcOpcode;
}

/** Forwards a CQ's completions to the connection, which only exists once the handshake is done. */
export class CompletionSink {
  target: NativeConnection | undefined;

  /** The addon's CQ callback. */
  readonly deliver = (wcs: AddonWc[], error?: string): void => {
    this.target?.onCompletions(wcs, error);
  };
}

/** The verbs objects a connection owns, created before the handshake (the QP must exist to connect). */
export interface QpResources {
  /** What the caller asked for (the device may grant more; we hold the caller to its own numbers). */
  readonly caps: QpCapabilities;
  readonly id: AddonCmId;
  readonly pd: AddonPd;
  readonly cq: AddonCq;
  readonly sink: CompletionSink;
}

/** Settings a connection takes from its provider. */
export interface ConnectionSettings {
  readonly scheduler: SchedulerLike;
  /** Bound on disconnect's wait for flushes and the peer's DREP, in ms. */
  readonly drainTimeoutMs: number;
  /** Bound on the wait for the RTU after an accept, in ms. */
  readonly timeoutMs: number;
}

/** A batch of sends posted on an accepted connection before the RTU: held, then posted in order. */
interface HeldSends {
  readonly list: AddonSendWr[];
  readonly ids: number[];
}

/**
 * A connection: created by NativeVerbs when the CM reports ESTABLISHED (connecting side), or right after
 * rdma_accept (accepting side: receives may be posted at once; sends are held until the RTU arrives).
 */
export class NativeConnection implements RdmaConnection {
  readonly completions: Observable<WorkCompletion>;
  readonly events: Observable<ConnectionEvent>;
  readonly pd: NativeProtectionDomain;
  private readonly completionSubject = new Subject<WorkCompletion>();
  private readonly eventSubject = new Subject<ConnectionEvent>();
  private readonly tracked = new Map<number, Tracked>();
  private sendOrder: number[] = [];
  private sendHead = 0;
  private nextInternalId = 1;
  private recvOutstanding = 0;
  private phase: 'open' | 'draining' | 'closed' = 'open';
  private qpErrorReported = false;
  private disconnectedSeen = false;
  private drainMarker: number | undefined;
  private drainWake: (() => void) | undefined;
  private disconnecting: Promise<void> | undefined;
  private readonly id: AddonCmId;
  private readonly cq: AddonCq;
  private readonly caps: QpCapabilities;
  private readonly rxeFlags: boolean;
  private established: boolean;
  private held: HeldSends[] = [];
  private heldCount = 0;
  private rtuTimer: Subscription | undefined;

  /** @internal */
  constructor(
    private readonly addon: Addon,
    private readonly router: CmRouter,
    resources: QpResources,
    private readonly settings: ConnectionSettings,
    readonly local: RdmaAddress,
    readonly remote: RdmaAddress,
    readonly peerPrivateData: Buffer,
    awaitingRtu = false,
  ) {
    this.established = !awaitingRtu;
    this.id = resources.id;
    this.cq = resources.cq;
    this.caps = resources.caps;
    this.pd = new NativeProtectionDomain(addon, resources.pd, this);
    resources.sink.target = this;
    this.rxeFlags = (this.id.deviceName() ?? '').startsWith('rxe');
    this.completions = this.completionSubject.asObservable();
    this.events = this.eventSubject.asObservable();
    router.on(this.id, (event) => {
      this.onCmEvent(event);
    });
    if (awaitingRtu && this.phase === 'open' && !this.established) {
      this.rtuTimer = settings.scheduler.schedule(() => {
        this.onHandshakeFailed('no RTU');
      }, settings.timeoutMs);
    }
  }

  get state(): QpState {
    if (this.phase === 'closed') return 'ERROR';
    try {
      const s = this.id.qpState();
      return s === 'INIT' || s === 'RTR' || s === 'RTS' ? s : 'ERROR';
    } catch {
      return 'ERROR';
    }
  }

  /** @internal For the regions of this connection's PD. */
  get open(): boolean {
    return this.phase === 'open';
  }

  postSend(wrs: readonly SendWorkRequest[]): void {
    this.assertOpen('postSend');
    const c = this.addon.verbsConstants;
    const list: AddonSendWr[] = [];
    const pending: [number, Tracked][] = [];
    for (const wr of wrs) {
      this.checkSgeCount(wr.sgl.length, this.caps.maxSendSge);
      const base = { wrId: this.newId(wr.wrId), signaled: wr.signaled ?? true, sgl: wr.sgl.map((s) => this.sge(s)) };
      switch (wr.opcode) {
        case 'SEND':
          list.push({ ...base, opcode: c.IBV_WR_SEND, solicited: wr.solicited ?? false });
          break;
        case 'SEND_WITH_INV':
          list.push({
            ...base,
            opcode: c.IBV_WR_SEND_WITH_INV,
            solicited: wr.solicited ?? false,
            invalidateRkey: wr.invalidateRkey,
          });
          break;
        case 'RDMA_WRITE':
        case 'RDMA_READ':
          list.push({
            ...base,
            opcode: wr.opcode === 'RDMA_WRITE' ? c.IBV_WR_RDMA_WRITE : c.IBV_WR_RDMA_READ,
            remoteAddr: wr.remoteAddr,
            rkey: wr.rkey,
          });
          break;
        default:
          throw new VerbsError(
            'ERR_VERBS_INVALID_WR',
            `postSend: unknown opcode ${String((wr as { opcode: unknown }).opcode)}`,
          );
      }
      pending.push([
        base.wrId,
        { wrId: wr.wrId, queue: 'send', opcode: wr.opcode === 'SEND_WITH_INV' ? 'SEND' : wr.opcode },
      ]);
    }
    const ids = pending.map(([internalId]) => internalId);
    if (!this.established) {
      // Accepted but no RTU yet: the peer may not be ready to receive. Hold, within the queue's size.
      if (this.heldCount + list.length > this.caps.maxSendWr) {
        throw new VerbsError('ERR_VERBS_QUEUE_FULL', `postSend: ${this.heldCount} sends already wait for the RTU`);
      }
      for (const [internalId, entry] of pending) this.track(internalId, entry);
      this.held.push({ list, ids });
      this.heldCount += list.length;
      return;
    }
    // Track before posting: no completion can be delivered before we return to the loop anyway.
    for (const [internalId, entry] of pending) this.track(internalId, entry);
    try {
      this.id.postSend(list);
    } catch (err) {
      this.untrackSendsFrom(ids, addonErrorInfo(err).badIndex ?? 0);
      throw this.postError('postSend', err);
    }
  }

  postRecv(wrs: readonly RecvWorkRequest[]): void {
    this.assertOpen('postRecv');
    for (const wr of wrs) this.checkSgeCount(wr.sgl.length, this.caps.maxRecvSge);
    const pending = wrs.map((wr) => ({
      internalId: this.newId(wr.wrId),
      wrId: wr.wrId,
      sgl: wr.sgl.map((s) => this.sge(s)),
    }));
    for (const p of pending) this.track(p.internalId, { wrId: p.wrId, queue: 'recv', opcode: 'RECV' });
    this.recvOutstanding += pending.length;
    try {
      this.id.postRecv(pending.map((p) => ({ wrId: p.internalId, sgl: p.sgl })));
    } catch (err) {
      const bad = addonErrorInfo(err).badIndex ?? 0;
      for (const p of pending.slice(bad)) this.tracked.delete(p.internalId);
      this.recvOutstanding -= pending.length - bad;
      throw this.postError('postRecv', err);
    }
  }

  disconnect(): Promise<void> {
    this.disconnecting ??= this.drainAndTearDown();
    return this.disconnecting;
  }

  /** @internal Posts an unsignaled BIND_MW for an invalidatable region (see memory.ts). */
  bindWindow(mw: AddonMw, mr: AddonMr, length: number, access: number): void {
    this.assertOpen('register');
    const wrId = this.nextInternalId++;
    this.track(wrId, { wrId, queue: 'internal', opcode: 'SEND' });
    try {
      this.id.postSend([
        { wrId, opcode: this.addon.verbsConstants.IBV_WR_BIND_MW, signaled: false, mw, mr, offset: 0, length, access },
      ]);
    } catch (err) {
      this.untrackSendsFrom([wrId], 0);
      throw this.postError('bind memory window', err);
    }
  }

  /** @internal Completions from this connection's CQ. */
  onCompletions(wcs: readonly AddonWc[], pollError: string | undefined): void {
    for (const wc of wcs) this.onCompletion(wc);
    if (pollError !== undefined) this.reportQpError('GENERAL_ERR');
    this.wakeDrain();
  }

  private onCompletion(wc: AddonWc): void {
    const entry = this.tracked.get(wc.wrId);
    if (entry === undefined) return;
    if (entry.queue === 'recv') {
      this.tracked.delete(wc.wrId);
      this.recvOutstanding--;
    } else {
      this.retireSendsThrough(wc.wrId);
    }
    const status: WcStatus = WC_STATUSES.has(wc.status) ? (wc.status as WcStatus) : 'GENERAL_ERR';
    if (status !== 'SUCCESS' && status !== 'WR_FLUSH_ERR' && this.phase === 'open') this.reportQpError(status);
    if (wc.wrId === this.drainMarker) {
      this.drainMarker = undefined;
      return;
    }
    if (entry.queue === 'internal') return;

    let invalidatedRkey: number | undefined;
    if (entry.queue === 'recv' && status === 'SUCCESS' && wc.exData !== undefined) {
      const flags = wc.wcFlags ?? 0;
      if ((flags & WC_WITH_INV) !== 0 || (this.rxeFlags && (flags & RXE_WC_WITH_INVALIDATE) !== 0)) {
        invalidatedRkey = wc.exData;
        this.pd.invalidateRkey(invalidatedRkey);
      }
    }
    this.completionSubject.next({
      wrId: entry.wrId,
      status,
      opcode: entry.opcode,
      byteLen: wc.byteLen,
      ...(invalidatedRkey !== undefined && { invalidatedRkey }),
    });
  }

  private onCmEvent(event: AddonCmEvent): void {
    if (!this.established) {
      if (event.type === 'ESTABLISHED') {
        this.onEstablished();
        return;
      }
      if (event.type === 'REJECTED' || event.type === 'CONNECT_ERROR' || event.type === 'UNREACHABLE') {
        this.onHandshakeFailed(event.type);
        return;
      }
    }
    if (event.type === 'DISCONNECTED' || event.type === 'DEVICE_REMOVAL') {
      if (this.disconnectedSeen) return;
      this.disconnectedSeen = true;
      this.eventSubject.next({ type: 'disconnected' });
      // Remote-initiated: answer the DREQ and flush our queues, as if the caller had disconnected.
      void this.disconnect();
      this.wakeDrain();
    }
  }

  /** The RTU arrived: post what was held, in order. */
  private onEstablished(): void {
    this.established = true;
    this.rtuTimer?.unsubscribe();
    const held = this.held;
    this.held = [];
    this.heldCount = 0;
    for (const [i, batch] of held.entries()) {
      try {
        this.id.postSend(batch.list);
      } catch (err) {
        // Cannot happen within the queue's size; if it does, what was not posted completes as flushed.
        const bad = addonErrorInfo(err).badIndex ?? 0;
        this.flushUnposted([{ list: batch.list.slice(bad), ids: batch.ids.slice(bad) }, ...held.slice(i + 1)]);
        this.reportQpError('LOC_QP_OP_ERR');
        return;
      }
    }
  }

  /** The accept never completed (no RTU, or the peer rejected our REP): close as if disconnected. */
  private onHandshakeFailed(_why: string): void {
    if (this.established || this.phase !== 'open') return;
    this.abandonHandshake();
    void this.disconnect();
  }

  /** Held sends complete as flushed; nothing will answer a DREQ for a handshake that never finished. */
  private abandonHandshake(): void {
    this.rtuTimer?.unsubscribe();
    const held = this.held;
    this.held = [];
    this.heldCount = 0;
    this.flushUnposted(held);
    if (!this.disconnectedSeen) {
      this.disconnectedSeen = true;
      this.eventSubject.next({ type: 'disconnected' });
    }
  }

  /** Sends that never reached the QP complete as flushed, like everything else outstanding. */
  private flushUnposted(batches: readonly HeldSends[]): void {
    for (const batch of batches) {
      for (const internalId of batch.ids) {
        const entry = this.tracked.get(internalId);
        if (entry === undefined) continue;
        this.untrackSendsFrom([internalId], 0);
        this.completionSubject.next({ wrId: entry.wrId, status: 'WR_FLUSH_ERR', opcode: entry.opcode, byteLen: 0 });
      }
    }
  }

  private async drainAndTearDown(): Promise<void> {
    if (this.phase !== 'open') return;
    this.phase = 'draining';
    if (!this.established) this.abandonHandshake();
    try {
      this.id.disconnect(); // QP -> ERROR (everything outstanding flushes), then DREQ or DREP
    } catch {
      // already disconnected by the peer's DREQ timing out, or never fully connected
    }
    // A signaled marker behind everything on the send queue: its completion means the queue is flushed.
    if (this.state === 'ERROR') {
      const marker = this.nextInternalId++;
      this.track(marker, { wrId: marker, queue: 'internal', opcode: 'SEND' });
      try {
        this.id.postSend([{ wrId: marker, opcode: this.addon.verbsConstants.IBV_WR_SEND, signaled: true, sgl: [] }]);
        this.drainMarker = marker;
      } catch {
        this.untrackSendsFrom([marker], 0);
      }
    }
    await this.until(() => this.drainMarker === undefined && this.recvOutstanding === 0 && this.disconnectedSeen);
    await this.tearDown();
  }

  /** Resolves when `done()` holds or after the drain bound, whichever is first. */
  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        this.drainWake = undefined;
        timer.unsubscribe();
        resolve();
      };
      const timer: Subscription = this.settings.scheduler.schedule(finish, this.settings.drainTimeoutMs);
      this.drainWake = () => {
        if (done()) finish();
      };
    });
  }

  private wakeDrain(): void {
    this.drainWake?.();
  }

  /**
   * QP -> CQ -> regions and PD -> id: each needs the one before it gone. The QP, CQ and id destroys run off the
   * JS thread (rxe on Linux 6.1 can block `rdma_destroy_qp` for a minute after a QP error, and a target serving
   * other sessions must not freeze meanwhile); the phase is already 'closed', so nothing is posted in between,
   * and registered Buffers stay referenced until the QP and CQ are gone.
   */
  private async tearDown(): Promise<void> {
    this.phase = 'closed';
    try {
      await this.id.destroyQpAsync();
    } catch {
      // the id may already be gone
    }
    try {
      await this.cq.closeAsync();
    } catch {
      // a CQ that cannot close leaks until exit; nothing to do here
    }
    this.pd.releaseAll();
    await this.router.destroyAsync(this.id);
    this.tracked.clear();
    this.completionSubject.complete();
    this.eventSubject.complete();
  }

  private reportQpError(status: WcStatus): void {
    if (this.qpErrorReported) return;
    this.qpErrorReported = true;
    this.eventSubject.next({ type: 'qp-error', status });
  }

  private assertOpen(what: string): void {
    if (this.phase !== 'open') throw new VerbsError('ERR_VERBS_CLOSED', `${what}: the connection is ${this.phase}`);
  }

  private newId(wrId: number): number {
    if (!Number.isSafeInteger(wrId)) throw new VerbsError('ERR_VERBS_INVALID_WR', `wrId ${wrId} is not a safe integer`);
    return this.nextInternalId++;
  }

  private checkSgeCount(count: number, max: number): void {
    if (count > max)
      throw new VerbsError('ERR_VERBS_INVALID_WR', `${count} SGEs in one work request; the QP takes ${max}`);
  }

  private sge(sge: Sge): AddonSge {
    const region = this.pd.own(sge.mr);
    if (region === undefined) {
      throw new VerbsError('ERR_VERBS_INVALID_WR', 'SGE names a region of another connection, or a deregistered one');
    }
    return region.toAddonSge(sge);
  }

  private track(internalId: number, entry: Tracked): void {
    this.tracked.set(internalId, entry);
    if (entry.queue !== 'recv') this.sendOrder.push(internalId);
  }

  /** Forgets sends that were not posted: `ids[from..]`. */
  private untrackSendsFrom(ids: readonly number[], from: number): void {
    const drop = new Set(ids.slice(from));
    if (drop.size === 0) return;
    for (const id of drop) this.tracked.delete(id);
    this.sendOrder = this.sendOrder.slice(this.sendHead).filter((id) => !drop.has(id));
    this.sendHead = 0;
  }

  /** A send completion for `id` means every send posted before it has completed too. */
  private retireSendsThrough(id: number): void {
    for (let head = this.sendOrder[this.sendHead]; head !== undefined; head = this.sendOrder[this.sendHead]) {
      this.sendHead++;
      this.tracked.delete(head);
      if (head === id) break;
    }
    if (this.sendHead > 1024 && this.sendHead * 2 > this.sendOrder.length) {
      this.sendOrder = this.sendOrder.slice(this.sendHead);
      this.sendHead = 0;
    }
  }

  private postError(what: string, err: unknown): VerbsError {
    if (err instanceof VerbsError) return err;
    const info = addonErrorInfo(err);
    const code = info.errno === 'ENOMEM' ? 'ERR_VERBS_QUEUE_FULL' : 'ERR_VERBS_INVALID_WR';
    return new VerbsError(code, `${what}: ${info.message}`, {
      ...(info.errno !== undefined && { errno: info.errno }),
      cause: err,
    });
  }
}
