/**
 * A connection as the fabric sees it: its number, its counters, its two sides (each a queue pair once created),
 * and the two ordered channels between them. Every message of the connection (CM and data) goes through
 * {@link ConnectionRecord.send}, which applies the link model and the fault plan's delays.
 */
import type { CountedOpcode, VerbsCounters } from './counters.js';
import { CounterSet, countAll } from './counters.js';
import type { FabricContext } from './context.js';
import type { FaultTarget } from './fault-engine.js';
import { OrderedChannel } from './link.js';
import type { RequestMessage, ResponseMessage } from './messages.js';

/** Which end of a connection: the one that called connect, or the one that accepted. */
export type Side = 'active' | 'passive';

/** Why a side was torn down. */
export type TeardownReason = 'local' | 'remote' | 'cable' | 'rejected';

/** What a side must handle: the messages its peer sends it. */
export interface ConnectionSide {
  onRequest(message: RequestMessage): void;
  onResponse(message: ResponseMessage): void;
  /** The CM RTU: the passive side may start sending. */
  onReadyToUse(): void;
  /** The CM DREQ. */
  onDisconnectRequest(): void;
  /** True once torn down. */
  readonly isClosed: boolean;
  /** Ends the side at once (QP to ERROR, flush, `disconnected`). */
  teardown(reason: TeardownReason): void;
}

/** Category of a message for the fault plan's delay rules (`undefined`: responses, never delayed by rules). */
export type MessageCategory = CountedOpcode | 'CM' | undefined;

/** One connection attempt and, once established, its two queue pairs. */
export class ConnectionRecord implements FaultTarget {
  /** `c1`, `c2`, … in order of connection attempts. */
  readonly id: string;
  readonly number: number;
  readonly activeHost: string;
  readonly passiveHost: string;
  readonly counters = new CounterSet();
  /** The active end gave up (its CM timeout) and told the passive end so: an accept now fails. */
  abandoned = false;
  readonly #ctx: FabricContext;
  readonly #toPassive = new OrderedChannel();
  readonly #toActive = new OrderedChannel();
  #active: ConnectionSide | undefined;
  #passive: ConnectionSide | undefined;

  constructor(ctx: FabricContext, number: number, activeHost: string, passiveHost: string) {
    this.#ctx = ctx;
    this.number = number;
    this.id = `c${number}`;
    this.activeHost = activeHost;
    this.passiveHost = passiveHost;
  }

  /** Attaches the queue pair of one side. */
  attach(side: Side, qp: ConnectionSide): void {
    if (side === 'active') this.#active = qp;
    else this.#passive = qp;
  }

  /** The queue pair of `side`, if created. */
  side(side: Side): ConnectionSide | undefined {
    return side === 'active' ? this.#active : this.#passive;
  }

  /** True while a side exists that is not torn down. */
  get live(): boolean {
    return [this.#active, this.#passive].some((side) => side !== undefined && !side.isClosed);
  }

  /** The host of `side`. */
  hostOf(side: Side): string {
    return side === 'active' ? this.activeHost : this.passiveHost;
  }

  /** Adds to both the fabric's and this connection's counters. */
  count(update: (set: CounterSet) => void): void {
    countAll([this.#ctx.counters, this.counters], update);
  }

  /** This connection's counters. */
  snapshot(): VerbsCounters {
    return this.counters.snapshot();
  }

  /**
   * Sends a message of `bytes` payload from `from` to the other side through the link model, the fault plan's
   * delays and the connection's ordering; `deliver` runs on arrival. Returns the arrival time.
   */
  send(from: Side, bytes: number, category: MessageCategory, deliver: () => void): number {
    const to: Side = from === 'active' ? 'passive' : 'active';
    const fromHost = this.hostOf(from);
    const extra = category === undefined ? 0 : this.#ctx.faults.extraDelay(this, fromHost, category);
    const raw = this.#ctx.link(fromHost, this.hostOf(to)).transmit(this.#ctx.now(), bytes, extra);
    const arrival = (to === 'passive' ? this.#toPassive : this.#toActive).order(raw);
    this.#ctx.at(arrival, deliver);
    return arrival;
  }

  /** Like {@link ConnectionRecord.send}, delivering to the other side's queue pair (dropped if it has none). */
  sendToPeer(from: Side, bytes: number, category: MessageCategory, deliver: (to: ConnectionSide) => void): number {
    const to: Side = from === 'active' ? 'passive' : 'active';
    return this.send(from, bytes, category, () => {
      const target = this.side(to);
      if (target !== undefined) deliver(target);
    });
  }

  /** Cuts the connection under both sides at once, as a cable pull would. */
  pullCable(): void {
    this.#active?.teardown('cable');
    this.#passive?.teardown('cable');
  }
}
