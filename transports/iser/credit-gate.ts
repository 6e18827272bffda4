/**
 * Flow control of "unexpected" PDUs (RFC 7145 §6.7): a Send lands in one of the receive buffers the peer posted, so
 * we never have more unexpected PDUs outstanding than the peer can hold. Each credited PDU takes a credit of its
 * pool under a key (the ITT it expects an answer for, or a TTT) until the answer comes back; while a pool is empty
 * its PDUs wait here in order. Uncredited PDUs (responses, Data-Outs riding on their command) never wait.
 */
import type { CreditLimits } from './sizing.js';

/** Which credit pool a PDU draws from. */
export type CreditPool = keyof CreditLimits;

/** A PDU (or a command with its Data-Outs) waiting for a credit. */
interface Waiting {
  readonly key: string;
  readonly owner: number | undefined;
  readonly post: () => void;
}

/** Credits of one connection's outbound unexpected PDUs. */
export class CreditGate {
  private readonly held: Record<CreditPool, Map<string, number>> = { commands: new Map(), control: new Map() };
  private readonly inUse: Record<CreditPool, number> = { commands: 0, control: 0 };
  private readonly waiting: Record<CreditPool, Waiting[]> = { commands: [], control: [] };

  constructor(private readonly limits: CreditLimits) {}

  /** Credits taken and not yet returned in `pool`. */
  outstanding(pool: CreditPool): number {
    return this.inUse[pool];
  }

  /** PDUs waiting for a credit in `pool`. */
  queued(pool: CreditPool): number {
    return this.waiting[pool].length;
  }

  /**
   * Runs `post` now if `pool` has a credit (taking it under `key`), else queues it behind earlier ones.
   * `owner` (an ITT) lets {@link cancel} drop it when its task ends first.
   */
  submit(pool: CreditPool, key: string, post: () => void, owner?: number): void {
    const queue = this.waiting[pool];
    if (queue.length > 0 || this.inUse[pool] >= Math.max(1, this.limits[pool])) {
      queue.push({ key, post, owner });
      return;
    }
    this.take(pool, key);
    post();
  }

  /** The answer for `key` came: returns one credit of `pool` held under it (if any) and lets waiters go. */
  release(pool: CreditPool, key: string): void {
    const map = this.held[pool];
    const count = map.get(key);
    if (count === undefined) return;
    if (count <= 1) map.delete(key);
    else map.set(key, count - 1);
    this.inUse[pool]--;
    this.pump(pool);
  }

  /** Returns every credit held under `key` in any pool (a task ended without its answer). */
  releaseAll(key: string): void {
    for (const pool of ['commands', 'control'] as const) {
      const count = this.held[pool].get(key);
      if (count === undefined) continue;
      this.held[pool].delete(key);
      this.inUse[pool] -= count;
      this.pump(pool);
    }
  }

  /** Drops the waiting PDUs of `owner` (its task ended before they could go). */
  cancel(owner: number): void {
    for (const pool of ['commands', 'control'] as const) {
      this.waiting[pool] = this.waiting[pool].filter((w) => w.owner !== owner);
    }
  }

  /** Drops everything waiting (the connection ended). */
  clear(): void {
    this.waiting.commands = [];
    this.waiting.control = [];
  }

  private take(pool: CreditPool, key: string): void {
    const map = this.held[pool];
    map.set(key, (map.get(key) ?? 0) + 1);
    this.inUse[pool]++;
  }

  private pump(pool: CreditPool): void {
    const queue = this.waiting[pool];
    while (queue.length > 0 && this.inUse[pool] < Math.max(1, this.limits[pool])) {
      const next = queue.shift() as Waiting;
      this.take(pool, next.key);
      next.post();
    }
  }
}
