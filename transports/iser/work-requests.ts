/**
 * The work requests of one connection: wrIds, what to do when each completes, and a send queue that never
 * overfills the QP. Every send is signaled (a completion frees its header slot and tells putData/getData that the
 * RDMA is done); when the QP's send queue is full, later requests wait here, in order, and go out as completions
 * free room. Receives are posted directly: their number is bounded by the receive ring.
 */
import type { RdmaConnection, RecvWorkRequest, SendWorkRequest, WorkCompletion } from '../verbs.js';

/** What to do when a work request completes (successfully, with an error, or flushed). */
export type CompletionHandler = (wc: WorkCompletion) => void;

/** A send waiting for room in the QP. */
interface QueuedSend {
  readonly wr: SendWorkRequest;
  readonly onComplete: CompletionHandler;
  /** Dropped before posting: its handler hears a synthetic flush. */
  cancelled: boolean;
  readonly owner: number | undefined;
}

/** wrIds, completion handlers and the software send queue of one connection. */
export class WorkRequests {
  private nextWrId = 1;
  private readonly handlers = new Map<number, CompletionHandler>();
  private readonly backlog: QueuedSend[] = [];
  private outstandingSends = 0;
  private stopped = false;

  /**
   * @param maxOutstandingSends the QP's send queue size.
   * @param onPostError called when posting a queued send fails later (the connection is broken).
   */
  constructor(
    private readonly connection: RdmaConnection,
    private readonly maxOutstandingSends: number,
    private readonly onPostError: (error: unknown) => void,
  ) {}

  /** A fresh wrId. */
  allocate(): number {
    const id = this.nextWrId;
    this.nextWrId = this.nextWrId >= Number.MAX_SAFE_INTEGER ? 1 : this.nextWrId + 1;
    return id;
  }

  /** Sends posted to the QP and not completed yet. */
  get sendsInFlight(): number {
    return this.outstandingSends;
  }

  /** Sends waiting for room. */
  get sendsQueued(): number {
    return this.backlog.length;
  }

  /**
   * Posts a send (its wrId from {@link allocate}), or queues it behind earlier ones when the QP is full. `owner`
   * (an ITT) lets {@link cancelQueued} drop it if its task ends first. Throws what postSend throws.
   */
  send(wr: SendWorkRequest, onComplete: CompletionHandler, owner?: number): void {
    if (this.stopped) {
      onComplete(flushOf(wr));
      return;
    }
    const item: QueuedSend = { wr, onComplete, cancelled: false, owner };
    if (this.backlog.length > 0 || this.outstandingSends >= this.maxOutstandingSends) {
      this.backlog.push(item);
      return;
    }
    this.postNow(item);
  }

  /** Posts receives with their handlers. Throws what postRecv throws. */
  receive(wrs: readonly RecvWorkRequest[], onComplete: CompletionHandler): void {
    if (this.stopped || wrs.length === 0) return;
    for (const wr of wrs) this.handlers.set(wr.wrId, onComplete);
    try {
      this.connection.postRecv(wrs);
    } catch (err) {
      for (const wr of wrs) this.handlers.delete(wr.wrId);
      throw err;
    }
  }

  /** Drops the queued (not yet posted) sends of `owner`; their handlers hear a flush. */
  cancelQueued(owner: number): void {
    for (const item of this.backlog) {
      if (item.owner === owner && !item.cancelled) {
        item.cancelled = true;
        item.onComplete(flushOf(item.wr));
      }
    }
  }

  /** Routes a completion to its handler and posts queued sends the freed room allows. */
  complete(wc: WorkCompletion): void {
    const handler = this.handlers.get(wc.wrId);
    if (handler === undefined) return;
    // A flushed completion's opcode cannot be trusted: the handler registered under the wrId knows what it was.
    this.handlers.delete(wc.wrId);
    handler(wc);
    this.drain();
  }

  /**
   * Stops posting: queued sends hear a flush now; posted work requests complete (flushed) through the
   * connection's completion stream as it tears down.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const queued = this.backlog.splice(0);
    for (const item of queued) if (!item.cancelled) item.onComplete(flushOf(item.wr));
  }

  private postNow(item: QueuedSend): void {
    this.handlers.set(item.wr.wrId, (wc) => {
      this.outstandingSends--;
      item.onComplete(wc);
    });
    this.outstandingSends++;
    try {
      this.connection.postSend([item.wr]);
    } catch (err) {
      this.handlers.delete(item.wr.wrId);
      this.outstandingSends--;
      throw err;
    }
  }

  private drain(): void {
    while (!this.stopped && this.outstandingSends < this.maxOutstandingSends) {
      const item = this.backlog.shift();
      if (item === undefined) return;
      if (item.cancelled) continue;
      try {
        this.postNow(item);
      } catch (err) {
        item.onComplete(flushOf(item.wr));
        this.onPostError(err);
        return;
      }
    }
  }
}

/** The completion a send would get had it been flushed. */
function flushOf(wr: SendWorkRequest): WorkCompletion {
  return {
    wrId: wr.wrId,
    status: 'WR_FLUSH_ERR',
    opcode: wr.opcode === 'SEND_WITH_INV' ? 'SEND' : wr.opcode,
    byteLen: 0,
  };
}
