/**
 * What soft-RoCE counts (rxe's `rxe_counters` and a little more): packets and bytes each way by opcode,
 * retransmissions, NAKs, RNR NAKs, duplicates, and packets dropped on receive (bad ICRC, malformed, unknown QP).
 */
import { opcodeInfo, type RoceOpcodeName } from '../opcodes.js';

/** Packets and UDP payload bytes (BTH through ICRC). */
export interface TrafficCount {
  readonly packets: number;
  readonly bytes: number;
}

/** Traffic one way: totals and by opcode name. */
export interface DirectionCounters extends TrafficCount {
  /** By rxe opcode name, e.g. `RC_SEND_ONLY`; opcodes never seen are absent. */
  readonly byOpcode: Readonly<Partial<Record<RoceOpcodeName, TrafficCount>>>;
}

/** Event counters (rxe names in brackets where rxe has one). */
export interface EventCounters {
  /** Request packets sent again (a PSN already sent before). */
  readonly retransmittedPackets: number;
  /** Go-back-N episodes started, by timer or NAK [`RXE_CNT_COMP_RETRY`]. */
  readonly retries: number;
  /** Retransmit timer expiries with something unacknowledged. */
  readonly timeouts: number;
  /** Work requests failed with RETRY_EXC_ERR [`RXE_CNT_RETRY_EXCEEDED`]. */
  readonly retryExceeded: number;
  /** NAK PSN sequence errors sent [`RXE_CNT_OUT_OF_SEQ_REQ`]. */
  readonly seqNaksSent: number;
  /** NAK PSN sequence errors received that moved the requester back [`RXE_CNT_RCV_SEQ_ERR`]. */
  readonly seqNaksReceived: number;
  /** RNR NAKs sent [`RXE_CNT_SND_RNR`]. */
  readonly rnrNaksSent: number;
  /** RNR NAKs received [`RXE_CNT_RCV_RNR`]. */
  readonly rnrNaksReceived: number;
  /** Work requests failed with RNR_RETRY_EXC_ERR [`RXE_CNT_RNR_RETRY_EXCEEDED`]. */
  readonly rnrRetryExceeded: number;
  /** NAKs of class C sent (invalid request, remote access, remote operational error). */
  readonly naksSent: number;
  /** NAKs of class C received. */
  readonly naksReceived: number;
  /** Duplicate requests received (re-ACKed, or READ replayed) [`RXE_CNT_DUP_REQ`]. */
  readonly duplicateRequests: number;
  /** Packets dropped on receive for a bad ICRC (rxe logs `bad ICRC from <ip>`). */
  readonly icrcDrops: number;
  /** Packets dropped on receive as malformed or against policy (TVer, P_Key, QPN, source address). */
  readonly malformedDrops: number;
  /** Packets for a QP that does not exist here. */
  readonly unknownQpDrops: number;
}

/** A snapshot of every counter. */
export interface RoceCounters extends EventCounters {
  readonly sent: DirectionCounters;
  readonly received: DirectionCounters;
}

/** Event counters while they are being counted. */
export type MutableEvents = { -readonly [K in keyof EventCounters]: number };

function zeroEvents(): MutableEvents {
  return {
    retransmittedPackets: 0,
    retries: 0,
    timeouts: 0,
    retryExceeded: 0,
    seqNaksSent: 0,
    seqNaksReceived: 0,
    rnrNaksSent: 0,
    rnrNaksReceived: 0,
    rnrRetryExceeded: 0,
    naksSent: 0,
    naksReceived: 0,
    duplicateRequests: 0,
    icrcDrops: 0,
    malformedDrops: 0,
    unknownQpDrops: 0,
  };
}

class DirectionCounter {
  packets = 0;
  bytes = 0;
  readonly byOpcode = new Map<number, { packets: number; bytes: number }>();

  add(opcode: number, bytes: number): void {
    this.packets++;
    this.bytes += bytes;
    let entry = this.byOpcode.get(opcode);
    if (entry === undefined) {
      entry = { packets: 0, bytes: 0 };
      this.byOpcode.set(opcode, entry);
    }
    entry.packets++;
    entry.bytes += bytes;
  }

  snapshot(): DirectionCounters {
    const byOpcode: Partial<Record<RoceOpcodeName, TrafficCount>> = {};
    for (const [opcode, entry] of [...this.byOpcode].sort((a, b) => a[0] - b[0])) {
      const name = opcodeInfo(opcode)?.name;
      if (name !== undefined) byOpcode[name] = { ...entry };
    }
    return { packets: this.packets, bytes: this.bytes, byOpcode };
  }
}

/** Mutable counters; several sets can be bumped at once (a connection's and its device's). */
export class RoceCounterSet {
  readonly events: MutableEvents = zeroEvents();
  readonly #sent = new DirectionCounter();
  readonly #received = new DirectionCounter();

  /** Counts a packet put on the wire. */
  sent(opcode: number, bytes: number): void {
    this.#sent.add(opcode, bytes);
  }

  /** Counts a packet taken off the wire (whether or not it is then dropped). */
  received(opcode: number, bytes: number): void {
    this.#received.add(opcode, bytes);
  }

  /** A frozen copy of the current values. */
  snapshot(): RoceCounters {
    return { ...this.events, sent: this.#sent.snapshot(), received: this.#received.snapshot() };
  }
}

/** Counters that bump several sets at once. */
export class CounterFanout {
  readonly #sets: readonly RoceCounterSet[];

  /** Bumps every one of `sets`. */
  constructor(sets: readonly RoceCounterSet[]) {
    this.#sets = sets;
  }

  /** Adds one to an event counter. */
  bump(name: keyof EventCounters): void {
    for (const set of this.#sets) set.events[name]++;
  }

  /** Counts a packet sent. */
  sent(opcode: number, bytes: number): void {
    for (const set of this.#sets) set.sent(opcode, bytes);
  }

  /** Counts a packet received. */
  received(opcode: number, bytes: number): void {
    for (const set of this.#sets) set.received(opcode, bytes);
  }
}
