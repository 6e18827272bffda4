/**
 * A sans-IO RC queue pair: work requests, packets and timer expiries in; packets to transmit, completions,
 * timer arm/cancel and state changes out (as {@link RcAction}s, in the order the edge must carry them out).
 *
 * It starts in RTR (the responder runs, the requester waits) and moves to RTS when the CM says so. The edge has
 * already checked work requests (SGEs, queue depths) and received packets (ICRC, QPN, addresses).
 */
import type { RecvWorkRequest, SendWorkRequest, WcStatus } from '../../../transports/verbs.js';
import { opcodeInfo } from '../opcodes.js';
import type { RocePacket } from '../packet.js';
import { psnCompare } from '../psn.js';
import type { RcAction, RcTimer } from './actions.js';
import { checkRcQpAttributes, type RcQpAttributes } from './attributes.js';
import { runCompleter } from './completer.js';
import type { CounterFanout } from './counters.js';
import type { RdmaMemory } from './memory-region.js';
import { runRequester } from './requester.js';
import { respond } from './responder.js';
import { SgeCursor } from './sge-cursor.js';
import { RcCore } from './state.js';

/** One RC queue pair's engine. */
export class RcQueuePair {
  readonly #core: RcCore;

  /** A queue pair in RTR (throws ERR_SOFTROCE_CONFIG for attributes out of range). */
  constructor(attr: RcQpAttributes, memory: RdmaMemory, counters: CounterFanout) {
    checkRcQpAttributes(attr);
    this.#core = new RcCore(attr, memory, counters);
  }

  /** The attributes it runs with. */
  get attributes(): RcQpAttributes {
    return this.#core.attr;
  }

  /** `RTR`, `RTS` or `ERROR`. */
  get state(): 'RTR' | 'RTS' | 'ERROR' {
    return this.#core.state;
  }

  /** Work requests posted and not yet completed. */
  get outstandingSends(): number {
    return this.#core.sq.length;
  }

  /** Receives posted and not yet completed. */
  get outstandingRecvs(): number {
    return this.#core.rq.length + (this.#core.respWqe === undefined ? 0 : 1);
  }

  /** RTR → RTS: the requester may send (what was posted meanwhile goes out now). */
  readyToSend(): RcAction[] {
    if (this.#core.state === 'RTR') {
      this.#core.state = 'RTS';
      this.#runRequester();
    }
    return this.#core.take();
  }

  /** Queues send work requests (flushed at once in ERROR). */
  postSend(wrs: readonly SendWorkRequest[]): RcAction[] {
    const core = this.#core;
    for (const wr of wrs) {
      core.sq.push({
        wr,
        signaled: wr.signaled ?? true,
        dma: new SgeCursor(wr.sgl),
        state: 'posted',
        firstPsn: 0,
        lastPsn: 0,
        iova: wr.opcode === 'RDMA_WRITE' || wr.opcode === 'RDMA_READ' ? wr.remoteAddr : 0n,
        hasRdAtomic: false,
        status: 'SUCCESS',
      });
    }
    if (core.state === 'ERROR') core.flush();
    else this.#runRequester();
    return core.take();
  }

  /** Queues receives (flushed at once in ERROR). */
  postRecv(wrs: readonly RecvWorkRequest[]): RcAction[] {
    const core = this.#core;
    for (const wr of wrs) core.rq.push({ wr, dma: new SgeCursor(wr.sgl) });
    if (core.state === 'ERROR') core.flush();
    return core.take();
  }

  /** Handles a packet addressed to this QP: a request for the responder, a response for the completer. */
  receive(pkt: RocePacket): RcAction[] {
    const core = this.#core;
    const info = opcodeInfo(pkt.bth.opcode);
    if (info === undefined || core.state === 'ERROR') return core.take();
    if (info.isRequest) {
      respond(core, pkt);
    } else if (core.state === 'RTS') {
      if (runCompleter(core, pkt)) runCompleter(core, undefined);
      this.#runRequester();
    }
    return core.take();
  }

  /** A timer the edge armed has fired. */
  timerExpired(timer: RcTimer): RcAction[] {
    const core = this.#core;
    if (core.state !== 'RTS') return core.take();
    if (timer === 'retransmit') {
      core.retransmitArmed = false;
      if (psnCompare(core.reqPsn, core.compPsn) > 0) {
        core.counters.bump('timeouts');
        core.note('retransmit-timeout', { compPsn: core.compPsn, reqPsn: core.reqPsn });
      }
      core.timeoutRetry = true;
      runCompleter(core, undefined);
      core.timeoutRetry = false;
    } else if (core.waitForRnrTimer) {
      core.waitForRnrTimer = false;
      core.needRetry = true;
      core.note('rnr-retry', { from: core.compPsn });
    }
    this.#runRequester();
    return core.take();
  }

  /**
   * Moves the QP to ERROR and flushes every outstanding work request. With `status` the edge also reports a QP
   * error (a failure); without it this is a local teardown (disconnect).
   */
  toError(status?: WcStatus): RcAction[] {
    const core = this.#core;
    if (status !== undefined) {
      core.enterError(status);
    } else if (core.state !== 'ERROR') {
      core.state = 'ERROR';
      core.retransmitArmed = false;
      core.cancel('retransmit');
      core.cancel('rnr');
      core.flush();
    }
    return core.take();
  }

  #runRequester(): void {
    runRequester(this.#core);
    // A work request that failed locally completes once it reaches the head of the queue.
    if (this.#core.sq.at(0)?.state === 'error') runCompleter(this.#core, undefined);
  }
}
