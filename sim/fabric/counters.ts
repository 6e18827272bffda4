/**
 * What the fabric counts, per fabric and per connection: operations and bytes by opcode, the payload copies that
 * are "the RDMA" (exactly one per byte moved when nothing is retransmitted), RNR events, retries, and every
 * non-successful completion by status.
 */
import type { WcStatus } from '../../transports/verbs.js';

/** Opcodes a requester posts, as the counters key them. */
export type CountedOpcode = 'SEND' | 'SEND_WITH_INV' | 'RDMA_WRITE' | 'RDMA_READ';

/** The opcodes of {@link CountedOpcode}, in a fixed order. */
export const COUNTED_OPCODES: readonly CountedOpcode[] = ['SEND', 'SEND_WITH_INV', 'RDMA_WRITE', 'RDMA_READ'];

/** A snapshot of counters. */
export interface VerbsCounters {
  /** Work requests posted, by opcode (`RECV` for receives). */
  readonly posted: Readonly<Record<CountedOpcode | 'RECV', number>>;
  /** Operations the responder executed (each message once, retransmissions not included), by opcode. */
  readonly operations: Readonly<Record<CountedOpcode, number>>;
  /** Payload bytes those operations moved, by opcode. */
  readonly bytes: Readonly<Record<CountedOpcode, number>>;
  /** `Buffer.copy` calls that moved payload, and the bytes they copied (a replayed RDMA READ copies again). */
  readonly copies: { readonly operations: number; readonly bytes: number };
  /** RNR NAKs sent by responders. */
  readonly rnrNaks: number;
  /** Retransmissions after an RNR wait. */
  readonly rnrRetries: number;
  /** Retransmissions after the local ACK (retransmit) timer expired. */
  readonly retransmits: number;
  /** Completions with a status other than SUCCESS, by status (flushes included). */
  readonly errors: Readonly<Partial<Record<WcStatus, number>>>;
}

function zeroByOpcode(): Record<CountedOpcode, number> {
  return { SEND: 0, SEND_WITH_INV: 0, RDMA_WRITE: 0, RDMA_READ: 0 };
}

/** Mutable counters; the fabric increments them, users read {@link CounterSet.snapshot}. */
export class CounterSet {
  readonly posted: Record<CountedOpcode | 'RECV', number> = { ...zeroByOpcode(), RECV: 0 };
  readonly operations = zeroByOpcode();
  readonly bytes = zeroByOpcode();
  copyOperations = 0;
  copyBytes = 0;
  rnrNaks = 0;
  rnrRetries = 0;
  retransmits = 0;
  readonly errors: Partial<Record<WcStatus, number>> = {};

  /** Records a non-successful completion. */
  error(status: WcStatus): void {
    this.errors[status] = (this.errors[status] ?? 0) + 1;
  }

  /** A frozen copy of the current values. */
  snapshot(): VerbsCounters {
    return {
      posted: { ...this.posted },
      operations: { ...this.operations },
      bytes: { ...this.bytes },
      copies: { operations: this.copyOperations, bytes: this.copyBytes },
      rnrNaks: this.rnrNaks,
      rnrRetries: this.rnrRetries,
      retransmits: this.retransmits,
      errors: { ...this.errors },
    };
  }
}

/** Applies one update to several counter sets at once (the fabric's and a connection's). */
export function countAll(sets: readonly CounterSet[], update: (set: CounterSet) => void): void {
  for (const set of sets) update(set);
}
