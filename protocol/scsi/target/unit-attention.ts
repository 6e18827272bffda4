/**
 * Unit attention conditions, kept per I_T nexus (SAM-5 §5.14, SPC-4 §5.14). A nexus's first command finds
 * POWER ON, RESET, OR BUS DEVICE RESET OCCURRED waiting; later events (a reset, a preemption, a mode change)
 * queue further conditions. Each is reported once, oldest first, except that a reset-class condition (ASC 29h)
 * replaces whatever was queued before it: after a reset nothing older matters.
 */
import { AdditionalSense } from '../sense-codes.js';

/** Most conditions kept per nexus; older non-reset ones are dropped beyond it. */
const MAX_PENDING = 8;

/** Who a raised condition is for. */
export type UnitAttentionScope =
  /** Every nexus the logical unit has seen. */
  | { readonly all: true; readonly except?: string }
  /** Only these nexuses. */
  | { readonly only: readonly string[] };

/** Pending unit attention conditions per I_T nexus key. */
export class UnitAttentions {
  private readonly known = new Set<string>();
  private readonly pending = new Map<string, number[]>();

  /** Notes a command from `nexus`; the first one queues POWER ON, RESET, OR BUS DEVICE RESET OCCURRED. */
  arrive(nexus: string): void {
    if (this.known.has(nexus)) return;
    this.known.add(nexus);
    this.push(nexus, AdditionalSense.PowerOnResetOrBusDeviceResetOccurred);
  }

  /** Queues `code` (`ASC << 8 | ASCQ`) for the nexuses in `scope`. */
  raise(code: number, scope: UnitAttentionScope): void {
    const targets = 'only' in scope ? scope.only : [...this.known].filter((n) => n !== scope.except);
    for (const nexus of targets) {
      if (this.known.has(nexus)) this.push(nexus, code);
    }
  }

  /** Removes and returns the oldest condition pending for `nexus`. */
  take(nexus: string): number | undefined {
    const queue = this.pending.get(nexus);
    const code = queue?.shift();
    if (queue?.length === 0) this.pending.delete(nexus);
    return code;
  }

  /** Drops every pending condition of `code` for `nexus` (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED). */
  clear(nexus: string, code: number): void {
    const queue = this.pending.get(nexus);
    if (queue === undefined) return;
    const rest = queue.filter((c) => c !== code);
    if (rest.length === 0) this.pending.delete(nexus);
    else this.pending.set(nexus, rest);
  }

  /** The conditions pending for `nexus`, oldest first (for tests and diagnostics). */
  peek(nexus: string): readonly number[] {
    return this.pending.get(nexus) ?? [];
  }

  private push(nexus: string, code: number): void {
    const queue = code >> 8 === 0x29 ? [] : (this.pending.get(nexus) ?? []);
    if (!queue.includes(code)) queue.push(code);
    while (queue.length > MAX_PENDING) {
      const index = queue.findIndex((c) => c >> 8 !== 0x29);
      queue.splice(index === -1 ? 0 : index, 1);
    }
    this.pending.set(nexus, queue);
  }
}
