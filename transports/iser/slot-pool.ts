/**
 * Fixed-size slots carved out of a few large registered buffers ("slabs"): where Send headers (iSER header + BHS +
 * AHS) and small control data are built. One registration serves many Sends; a slot goes back to the pool when its
 * Send completes. The pool grows a slab at a time and never shrinks (the connection's teardown frees it all).
 */
import type { MemoryRegion, ProtectionDomain, Sge } from '../verbs.js';

/** One slot: `length` bytes at `offset` of a registered slab. */
export interface Slot {
  readonly mr: MemoryRegion;
  readonly offset: number;
  readonly length: number;
  /** A view of the slot's bytes. */
  readonly bytes: Buffer;
}

/** Options of a {@link SlotPool}. */
export interface SlotPoolOptions {
  readonly slotLength: number;
  readonly slotsPerSlab: number;
  /** Access flags of the slabs (see `Access`). */
  readonly access: number;
}

/** A pool of registered slots of one size. */
export class SlotPool {
  private readonly free: Slot[] = [];
  private slabs = 0;

  constructor(
    private readonly pd: ProtectionDomain,
    private readonly options: SlotPoolOptions,
  ) {}

  /** Bytes per slot. */
  get slotLength(): number {
    return this.options.slotLength;
  }

  /** Slabs registered so far. */
  get slabCount(): number {
    return this.slabs;
  }

  /** A free slot (registering a new slab when none is left). */
  take(): Slot {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    this.grow();
    return this.free.pop() as Slot;
  }

  /** Returns a slot taken from this pool. */
  give(slot: Slot): void {
    this.free.push(slot);
  }

  private grow(): void {
    const { slotLength, slotsPerSlab, access } = this.options;
    // Buffer.alloc, never a pooled slab: registration refuses Node's shared pool.
    const slab = Buffer.alloc(slotLength * slotsPerSlab);
    const mr = this.pd.register(slab, access);
    this.slabs++;
    for (let i = slotsPerSlab - 1; i >= 0; i--) {
      const offset = i * slotLength;
      this.free.push({ mr, offset, length: slotLength, bytes: slab.subarray(offset, offset + slotLength) });
    }
  }
}

/** The first `length` bytes of a slot as a scatter/gather entry. */
export function slotSge(slot: Slot, length: number): Sge {
  return { mr: slot.mr, offset: slot.offset, length };
}
