/**
 * One IB CM connection (Linux `cm_id`) as a sans-IO state machine: messages and timer expiries in; messages to
 * send, timer arm/cancel and outcomes out. The edge routes MADs to it, builds the REQ and REP (which need QP
 * numbers and PSNs), and carries out the actions.
 *
 * Active side: REQ sent → (MRA: wait longer) → REP → RTU sent → established; REJ fails the connect; the REQ is
 * resent on each response timeout, at most `maxRetries` times; a REJ "stale connection" puts it in time-wait.
 * Passive side: REQ received → the consumer accepts (REP sent, resent on its timeout only) or rejects (REJ);
 * established on RTU or on the first packet of the connection (COMM_EST). A repeated REQ while the consumer
 * decides gets an MRA (rdma_cm's delayed MRA); in any later state ib_cm ignores it (`cm_dup_req_handler`).
 * Teardown: DREQ (resent on timeout) → DREP, or DREQ received → DREP; then time-wait, then closed.
 */
import type { CmDrep, CmDreq } from '../cm-disconnect.js';
import type { CmMessage } from '../cm-mad.js';
import type { CmMra } from '../cm-mra.js';
import { CmMessageRef, CmRejectReason, type CmRej } from '../cm-rej.js';
import type { CmRep } from '../cm-rep.js';
import type { CmReq } from '../cm-req.js';
import type { CmRtu } from '../cm-rtu.js';
import { cmConvertToMs, type CmTimings } from './cm-timing.js';

/** Where a CM session stands (Linux `enum ib_cm_state`, the subset rdma_cm over RoCE goes through). */
export type CmState =
  | 'req-sent'
  | 'mra-received'
  | 'req-received'
  | 'mra-sent'
  | 'rep-sent'
  | 'established'
  | 'dreq-sent'
  | 'timewait'
  | 'closed';

/** Why a connection attempt (or an accepted, not yet established connection) failed. */
export type CmFailure =
  | { readonly kind: 'rejected'; readonly rej: CmRej }
  | { readonly kind: 'unreachable'; readonly rej: CmRej }
  | { readonly kind: 'timeout' };

/** An action of a CM session. */
export type CmAction =
  | { readonly type: 'send'; readonly tid: bigint; readonly message: CmMessage }
  | { readonly type: 'arm-timer'; readonly delayMs: number }
  | { readonly type: 'cancel-timer' }
  /** Active: the REP arrived (RTU already sent). Passive: the RTU (or the first packet) arrived. */
  | { readonly type: 'established'; readonly rep?: CmRep }
  | { readonly type: 'failed'; readonly failure: CmFailure }
  /** The peer disconnected (DREQ), or a connection ended abnormally after it was established. */
  | { readonly type: 'disconnected' }
  /** Time-wait is over: the session's IDs may be reused. */
  | { readonly type: 'closed' };

/** What a session needs from its device. */
export interface CmSessionContext {
  readonly timings: CmTimings;
  /** Our CA GUID: a REJ for a timeout carries it in its ARI, so the peer can find the connection without our ID. */
  readonly localCaGuid: bigint;
  /** A fresh MAD transaction ID (for REQ and DREQ). */
  nextTid(): bigint;
}

/** One CM session. */
export class CmSession {
  readonly localCommId: number;
  remoteCommId: number;
  #state: CmState;
  readonly #ctx: CmSessionContext;
  /** TID of the REQ: REP, RTU, MRA and REJ reuse it. */
  readonly #reqTid: bigint;
  #dreqTid = 0n;
  #retriesLeft: number;
  /** The last message that is resent on a timeout (REQ, REP or DREQ), and how long to wait for an answer. */
  #pending: { tid: bigint; message: CmMessage; waitMs: number } | undefined;
  #remoteQpn: number;
  /** Passive: how long to wait for the RTU after a REP (from the REQ's response timeout). */
  #reqWaitMs = 0;
  /**
   * ib_cm's `timeout_ms`, which also paces DREQ resends: active, 2 · packet lifetime + the remote response timeout;
   * passive, the REQ's local response timeout. (Not the ACK timeout: an iSER target may take seconds to answer a
   * DREQ, e.g. LIO while its login thread winds down, and 16 DREQs 67 ms apart would give up after a second.)
   */
  #timeoutMs = 0;
  /** The CM itself sent the DREQ (a stale connection): the owner learns of the end at the DREP or its timeout. */
  #reportDisconnect = false;
  #out: CmAction[] = [];

  private constructor(ctx: CmSessionContext, localCommId: number, remoteCommId: number, tid: bigint, state: CmState) {
    this.#ctx = ctx;
    this.localCommId = localCommId;
    this.remoteCommId = remoteCommId;
    this.#reqTid = tid;
    this.#state = state;
    this.#retriesLeft = ctx.timings.maxRetries;
    this.#remoteQpn = 0;
  }

  /** An active session: sends `req` (its `localCommId` is ours). */
  static connect(ctx: CmSessionContext, req: CmReq): { session: CmSession; actions: CmAction[] } {
    const session = new CmSession(ctx, req.localCommId, 0, ctx.nextTid(), 'req-sent');
    const t = ctx.timings;
    const waitMs = 2 * cmConvertToMs(t.packetLifetime) + cmConvertToMs(req.remoteCmResponseTimeout);
    session.#timeoutMs = waitMs;
    session.#sendAwaiting(session.#reqTid, req, waitMs);
    return { session, actions: session.#take() };
  }

  /** A passive session for a REQ received with `tid`; the consumer is asked next. */
  static incoming(ctx: CmSessionContext, localCommId: number, req: CmReq, tid: bigint): CmSession {
    const session = new CmSession(ctx, localCommId, req.localCommId, tid, 'req-received');
    session.#remoteQpn = req.localQpn;
    session.#reqWaitMs = 2 * cmConvertToMs(ctx.timings.packetLifetime) + cmConvertToMs(req.localCmResponseTimeout);
    session.#timeoutMs = cmConvertToMs(req.localCmResponseTimeout);
    return session;
  }

  /** The state. */
  get state(): CmState {
    return this.#state;
  }

  /** Passive: sends the REP (the edge has created the QP). */
  accept(rep: CmRep): CmAction[] {
    if (this.#state !== 'req-received' && this.#state !== 'mra-sent') return [];
    this.#state = 'rep-sent';
    this.#retriesLeft = this.#ctx.timings.maxRetries;
    this.#sendAwaiting(this.#reqTid, rep, this.#reqWaitMs);
    return this.#take();
  }

  /** Passive: rejects the REQ with the consumer's reason. */
  reject(privateData: Buffer): CmAction[] {
    if (this.#state !== 'req-received' && this.#state !== 'mra-sent') return [];
    this.#send(this.#reqTid, this.#rej(CmMessageRef.REQ, CmRejectReason.ConsumerDefined, privateData));
    this.#close();
    return this.#take();
  }

  /** Passive: the first packet of the connection arrived before the RTU (IB `COMM_EST`). */
  communicationEstablished(): CmAction[] {
    if (this.#state === 'rep-sent') this.#establishPassive();
    return this.#take();
  }

  /**
   * A REQ reused this connection's remote QPN (its peer restarted): ib_cm `cm_match_req` sends the connection a
   * DREQ if it is established, and its consumer sees it end when the DREP arrives (or the DREQ times out).
   */
  staleConnection(): CmAction[] {
    if (this.#state !== 'established') return [];
    this.#reportDisconnect = true;
    return this.disconnect();
  }

  /** Local disconnect: DREQ (from established), or a REJ for an attempt still in progress. */
  disconnect(): CmAction[] {
    switch (this.#state) {
      case 'established': {
        this.#state = 'dreq-sent';
        this.#retriesLeft = this.#ctx.timings.maxRetries;
        this.#dreqTid = this.#ctx.nextTid();
        const dreq: CmDreq = {
          kind: 'DREQ',
          localCommId: this.localCommId,
          remoteCommId: this.remoteCommId,
          remoteQpn: this.#remoteQpn,
          privateData: Buffer.alloc(0),
        };
        this.#sendAwaiting(this.#dreqTid, dreq, this.#timeoutMs);
        break;
      }
      case 'req-sent':
      case 'mra-received':
      case 'rep-sent':
        this.#send(
          this.#reqTid,
          this.#rej(this.#state === 'rep-sent' ? CmMessageRef.REP : CmMessageRef.REQ, CmRejectReason.Timeout),
        );
        this.#close();
        break;
      default:
        break;
    }
    return this.#take();
  }

  /** Gives up at once (the connect's own deadline passed): a REJ (timeout) tells the peer. */
  abandon(): CmAction[] {
    if (this.#state === 'req-sent' || this.#state === 'mra-received') {
      this.#send(this.#reqTid, this.#rej(CmMessageRef.REQ, CmRejectReason.Timeout));
      this.#close();
    }
    return this.#take();
  }

  /** The session's remote QP number (active: known from the REP). */
  setRemoteQpn(qpn: number): void {
    this.#remoteQpn = qpn;
  }

  /** Handles a CM message routed to this session (received with `tid`). */
  receive(message: CmMessage, tid: bigint): CmAction[] {
    switch (message.kind) {
      case 'REQ':
        this.#onDuplicateReq();
        break;
      case 'MRA':
        this.#onMra(message);
        break;
      case 'REP':
        this.#onRep(message);
        break;
      case 'RTU':
        if (this.#state === 'rep-sent') this.#establishPassive();
        break;
      case 'REJ':
        this.#onRej(message);
        break;
      case 'DREQ':
        this.#onDreq(tid);
        break;
      case 'DREP':
        if (this.#state === 'dreq-sent') this.#dreqAnswered();
        break;
      default:
        break;
    }
    return this.#take();
  }

  /** The session's timer fired. */
  timerExpired(): CmAction[] {
    switch (this.#state) {
      case 'req-sent':
      case 'mra-received':
      case 'rep-sent':
      case 'dreq-sent':
        if (this.#pending !== undefined && this.#retriesLeft > 0) {
          this.#retriesLeft--;
          this.#sendAwaiting(this.#pending.tid, this.#pending.message, this.#pending.waitMs);
        } else if (this.#state === 'dreq-sent') {
          this.#dreqAnswered();
        } else {
          const wasActive = this.#state !== 'rep-sent';
          this.#close();
          this.#out.push({ type: 'failed', failure: { kind: 'timeout' } });
          if (!wasActive) this.#out.push({ type: 'disconnected' });
        }
        break;
      case 'timewait':
        this.#state = 'closed';
        this.#out.push({ type: 'closed' });
        break;
      default:
        break;
    }
    return this.#take();
  }

  #onDuplicateReq(): void {
    switch (this.#state) {
      case 'req-received':
      case 'mra-sent': {
        // The consumer is still deciding: ask the active side to wait (an MRA for the REQ). rdma_cm arms a
        // delayed MRA when its REQ event returns unanswered, and ib_cm sends it for each repeated REQ.
        const mra: CmMra = {
          kind: 'MRA',
          localCommId: this.localCommId,
          remoteCommId: this.remoteCommId,
          messageMraed: CmMessageRef.REQ,
          serviceTimeout: this.#ctx.timings.responseTimeout,
          privateData: Buffer.alloc(0),
        };
        this.#state = 'mra-sent';
        this.#send(this.#reqTid, mra);
        break;
      }
      default:
        // REP sent, established, disconnecting: ib_cm drops it (the REP is resent on its own timer).
        break;
    }
  }

  #onMra(mra: CmMra): void {
    if (this.#state !== 'req-sent' || mra.messageMraed !== CmMessageRef.REQ || this.#pending === undefined) return;
    this.#state = 'mra-received';
    // Wait the service time the peer asked for before sending the REQ again.
    const waitMs = cmConvertToMs(mra.serviceTimeout) + cmConvertToMs(this.#ctx.timings.ackTimeout);
    this.#pending = { ...this.#pending, waitMs };
    this.#out.push({ type: 'arm-timer', delayMs: waitMs });
  }

  #onRep(rep: CmRep): void {
    if (this.#state === 'established') {
      // Our RTU was lost: the passive side sent its REP again.
      this.#send(this.#reqTid, this.#rtu());
      return;
    }
    if (this.#state !== 'req-sent' && this.#state !== 'mra-received') return;
    this.remoteCommId = rep.localCommId;
    this.#remoteQpn = rep.localQpn;
    this.#pending = undefined;
    this.#out.push({ type: 'cancel-timer' });
    this.#send(this.#reqTid, this.#rtu());
    this.#state = 'established';
    this.#out.push({ type: 'established', rep });
  }

  #onRej(rej: CmRej): void {
    // ib_cm `cm_rej_handler`: a connection rejected as stale waits out time-wait before its IDs are reused.
    const end = (): void => {
      if (rej.reason === CmRejectReason.StaleConnection) {
        this.#out.push({ type: 'cancel-timer' });
        this.#enterTimewait();
      } else {
        this.#close();
      }
    };
    switch (this.#state) {
      case 'req-sent':
      case 'mra-received':
        end();
        this.#out.push({
          type: 'failed',
          failure:
            rej.reason === CmRejectReason.InvalidServiceId ? { kind: 'unreachable', rej } : { kind: 'rejected', rej },
        });
        break;
      case 'rep-sent':
      case 'mra-sent':
      case 'req-received':
        end();
        this.#out.push({ type: 'failed', failure: { kind: 'rejected', rej } });
        this.#out.push({ type: 'disconnected' });
        break;
      case 'established':
      case 'dreq-sent':
        this.#close();
        this.#out.push({ type: 'disconnected' });
        break;
      default:
        break;
    }
  }

  #onDreq(tid: bigint): void {
    const drep: CmDrep = {
      kind: 'DREP',
      localCommId: this.localCommId,
      remoteCommId: this.remoteCommId,
      privateData: Buffer.alloc(0),
    };
    switch (this.#state) {
      case 'established':
      case 'rep-sent':
        this.#send(tid, drep);
        this.#out.push({ type: 'disconnected' });
        this.#enterTimewait();
        break;
      case 'dreq-sent':
        // Both sides disconnected at once.
        this.#send(tid, drep);
        this.#enterTimewait();
        break;
      case 'timewait':
        this.#send(tid, drep);
        break;
      default:
        break;
    }
  }

  #establishPassive(): void {
    this.#pending = undefined;
    this.#out.push({ type: 'cancel-timer' });
    this.#state = 'established';
    this.#out.push({ type: 'established' });
  }

  #dreqAnswered(): void {
    this.#enterTimewait();
    if (this.#reportDisconnect) this.#out.push({ type: 'disconnected' });
  }

  #enterTimewait(): void {
    this.#pending = undefined;
    this.#state = 'timewait';
    this.#out.push({ type: 'arm-timer', delayMs: cmConvertToMs(this.#ctx.timings.ackTimeout) });
  }

  #close(): void {
    this.#pending = undefined;
    this.#state = 'closed';
    this.#out.push({ type: 'cancel-timer' });
    this.#out.push({ type: 'closed' });
  }

  #rtu(): CmRtu {
    return {
      kind: 'RTU',
      localCommId: this.localCommId,
      remoteCommId: this.remoteCommId,
      privateData: Buffer.alloc(0),
    };
  }

  #rej(ref: number, reason: number, privateData: Buffer = Buffer.alloc(0)): CmRej {
    let ari = Buffer.alloc(0);
    if (reason === CmRejectReason.Timeout) {
      ari = Buffer.alloc(8);
      ari.writeBigUInt64BE(this.#ctx.localCaGuid);
    }
    return {
      kind: 'REJ',
      localCommId: this.localCommId,
      remoteCommId: this.remoteCommId,
      messageRejected: ref,
      reason,
      ari,
      privateData,
    };
  }

  #send(tid: bigint, message: CmMessage): void {
    this.#out.push({ type: 'send', tid, message });
  }

  #sendAwaiting(tid: bigint, message: CmMessage, waitMs: number): void {
    this.#pending = { tid, message, waitMs };
    this.#send(tid, message);
    this.#out.push({ type: 'arm-timer', delayMs: waitMs });
  }

  #take(): CmAction[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
