/**
 * Test harness: two sans-IO RC queue pairs wired back to back, with a hand-driven clock. Packets travel in
 * order and at once unless the test's filter drops, duplicates, holds back or rewrites them; when nothing is in
 * flight the clock jumps to the next timer. Every packet put on the wire is logged for assertions.
 */
import type { WorkCompletion } from '../../../../transports/verbs.js';
import { SeededRandom } from '../../../../sim/clock/random.js';
import { opcodeInfo } from '../../../../sim/roce/opcodes.js';
import type { RocePacket } from '../../../../sim/roce/packet.js';
import type { RcAction, RcTimer } from '../../../../sim/roce/rc/actions.js';
import type { RcQpAttributes } from '../../../../sim/roce/rc/attributes.js';
import { CounterFanout, RoceCounterSet } from '../../../../sim/roce/rc/counters.js';
import { MemoryKeyTable, SoftRoceProtectionDomain } from '../../../../sim/roce/rc/memory-region.js';
import { RcQueuePair } from '../../../../sim/roce/rc/queue-pair.js';

/** Which end. */
export type End = 'a' | 'b';

/** A packet as it went on the wire. */
export interface WireRecord {
  readonly t: number;
  readonly from: End;
  readonly name: string;
  readonly psn: number;
  readonly packet: RocePacket;
}

/** What the filter does with a packet: deliver it, drop it, deliver it twice, or deliver others instead. */
export type Verdict = 'pass' | 'drop' | 'dup' | readonly RocePacket[];

/** Defaults: QPNs 0x11 / 0x12, PSNs far apart, MTU 1024, retry 6, timeout 14. */
export function attributes(end: End, over: Partial<RcQpAttributes> = {}): RcQpAttributes {
  const a = { qpn: 0x11, psn: 0x00fff0 };
  const b = { qpn: 0x12, psn: 0x800000 };
  const [self, peer] = end === 'a' ? [a, b] : [b, a];
  return {
    qpn: self.qpn,
    destQpn: peer.qpn,
    sqPsn: self.psn,
    rqPsn: peer.psn,
    mtu: 1024,
    timeout: 14,
    retryCount: 6,
    rnrRetry: 6,
    minRnrTimer: 12,
    maxRdAtomic: 4,
    maxDestRdAtomic: 4,
    ...over,
  };
}

/** Two engines and their wire. */
export class EnginePair {
  now = 0;
  readonly qp: Record<End, RcQueuePair>;
  readonly pd: Record<End, SoftRoceProtectionDomain>;
  readonly counters: Record<End, RoceCounterSet> = { a: new RoceCounterSet(), b: new RoceCounterSet() };
  readonly wcs: Record<End, WorkCompletion[]> = { a: [], b: [] };
  readonly errors: Record<End, string[]> = { a: [], b: [] };
  readonly wire: WireRecord[] = [];
  readonly notes: { end: End; event: string; fields: Readonly<Record<string, number | string>> }[] = [];
  filter: (record: WireRecord) => Verdict = () => 'pass';
  readonly #inFlight: { to: End; packet: RocePacket }[] = [];
  readonly #timers = new Map<string, number>();

  constructor(over: { a?: Partial<RcQpAttributes>; b?: Partial<RcQpAttributes> } = {}, seed = 1) {
    const random = new SeededRandom(seed);
    const keys = { a: new MemoryKeyTable(random.fork('keys-a')), b: new MemoryKeyTable(random.fork('keys-b')) };
    this.pd = {
      a: new SoftRoceProtectionDomain(keys.a, random.fork('pd-a')),
      b: new SoftRoceProtectionDomain(keys.b, random.fork('pd-b')),
    };
    this.qp = {
      a: new RcQueuePair(attributes('a', over.a), this.pd.a, new CounterFanout([this.counters.a])),
      b: new RcQueuePair(attributes('b', over.b), this.pd.b, new CounterFanout([this.counters.b])),
    };
    this.apply('a', this.qp.a.readyToSend());
    this.apply('b', this.qp.b.readyToSend());
  }

  /** Carries out an engine's actions. */
  apply(end: End, actions: readonly RcAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'transmit': {
          const record: WireRecord = {
            t: this.now,
            from: end,
            name: opcodeInfo(action.packet.bth.opcode)?.name ?? '?',
            psn: action.packet.bth.psn,
            packet: action.packet,
          };
          this.wire.push(record);
          const to: End = end === 'a' ? 'b' : 'a';
          const verdict = this.filter(record);
          const copies =
            verdict === 'pass'
              ? [action.packet]
              : verdict === 'drop'
                ? []
                : verdict === 'dup'
                  ? [action.packet, action.packet]
                  : verdict;
          for (const packet of copies) this.#inFlight.push({ to, packet });
          break;
        }
        case 'complete':
          this.wcs[end].push(action.wc);
          break;
        case 'arm-timer':
          this.#timers.set(`${end}:${action.timer}`, this.now + action.delayMs);
          break;
        case 'cancel-timer':
          this.#timers.delete(`${end}:${action.timer}`);
          break;
        case 'qp-error':
          this.errors[end].push(action.status);
          break;
        case 'note':
          this.notes.push({ end, event: action.event, fields: action.fields });
          break;
      }
    }
  }

  /** Delivers packets and fires timers until nothing is left, or `until` holds; bounded. */
  run(until: () => boolean = () => false, maxSteps = 200_000): void {
    for (let step = 0; step < maxSteps; step++) {
      if (until()) return;
      const next = this.#inFlight.shift();
      if (next !== undefined) {
        this.apply(next.to, this.qp[next.to].receive(next.packet));
        continue;
      }
      let earliest: [string, number] | undefined;
      for (const entry of this.#timers) if (earliest === undefined || entry[1] < earliest[1]) earliest = entry;
      if (earliest === undefined) return;
      this.#timers.delete(earliest[0]);
      this.now = Math.max(this.now, earliest[1]);
      const [end, timer] = earliest[0].split(':') as [End, RcTimer];
      this.apply(end, this.qp[end].timerExpired(timer));
    }
    throw new Error(`engine pair did not settle within ${maxSteps} steps`);
  }

  /** Packets on the wire from `from` named `name`. */
  sent(from: End, name: string): WireRecord[] {
    return this.wire.filter((r) => r.from === from && r.name === name);
  }
}
