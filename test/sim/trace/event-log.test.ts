import { createHash } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';
import { TraceError } from '../../../sim/trace/errors.js';
import {
  canonicalJson,
  EventLog,
  eventLine,
  SIM_CHANNEL,
  type EventValue,
  type SimEvent,
} from '../../../sim/trace/event-log.js';

const fixedClock = (t: number): { now: () => number } => ({ now: () => t });

describe('canonicalJson', () => {
  it('sorts keys at every depth, drops undefined, and renders bigint, bytes and odd numbers fixedly', () => {
    const value: EventValue = {
      z: 1,
      a: { d: [3n, Buffer.from([0, 255]), undefined], c: -0, b: Infinity },
      m: undefined,
      u: new Uint8Array([1, 2]).subarray(1),
      s: 'é"\n',
      n: null,
    };
    expect(canonicalJson(value)).toBe(
      '{"a":{"b":{"$number":"Infinity"},"c":0,"d":[{"$bigint":"3"},{"$bytes":"00ff"},null]},"n":null,"s":"é\\"\\n","u":{"$bytes":"02"},"z":1}',
    );
  });

  it('does not depend on the order keys were inserted in', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string(), fc.boolean())), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(dict));
        // Plain JSON values survive the trip.
        expect(JSON.parse(canonicalJson(dict))).toEqual(dict);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses cycles, functions and class instances with a typed error', () => {
    const cyclic: Record<string, EventValue> = {};
    cyclic.self = cyclic;
    const bad: unknown[] = [cyclic, { f: () => 1 }, { d: new Date(0) }, { m: new Map() }];
    for (const v of bad) {
      expect(() => canonicalJson(v as EventValue)).toThrow(TraceError);
    }
    // The same object twice, side by side, is not a cycle.
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});

describe('EventLog', () => {
  const program = (log: EventLog, order: 'ab' | 'ba'): void => {
    log.record(
      'initiator',
      'login',
      order === 'ab' ? { isid: 0x400001370000n, cid: 1 } : { cid: 1, isid: 0x400001370000n },
    );
    log.append({ t: 1.5, source: 'fabric', type: 'send', fields: { bytes: Buffer.from('hi'), qp: 17 } });
  };

  it('serializes with a fixed key order and hashes the same events to the same digest', () => {
    const a = new EventLog({ clock: fixedClock(0) });
    const b = new EventLog({ clock: fixedClock(0), keep: false });
    program(a, 'ab');
    program(b, 'ba');
    expect(a.lines()).toEqual([
      '{"t":0,"source":"initiator","type":"login","fields":{"cid":1,"isid":{"$bigint":"70368764559360"}}}',
      '{"t":1.5,"source":"fabric","type":"send","fields":{"bytes":{"$bytes":"6869"},"qp":17}}',
    ]);
    expect(b.hash()).toBe(a.hash());
    expect(b.lines()).toEqual([]);
    expect(b.size).toBe(2);
    // The hash is SHA-256 of the JSON-lines text, and asking for it does not end the log.
    expect(a.hash()).toBe(createHash('sha256').update(a.toJsonLines()).digest('hex'));
    a.record('x', 'y');
    expect(a.hash()).not.toBe(b.hash());
  });

  it('changes the hash when any event differs', () => {
    const base = (): EventLog => {
      const log = new EventLog({ clock: fixedClock(2) });
      program(log, 'ab');
      return log;
    };
    const variants: ((log: EventLog) => void)[] = [
      (log) => log.append({ t: 3, source: 's', type: 't', fields: {} }),
      (log) => log.append({ t: 3, source: 's', type: 't', fields: { v: 1n } }),
      (log) => log.append({ t: 3, source: 's', type: 't', fields: { v: '1' } }),
      (log) => log.append({ t: 3, source: 's', type: 't', fields: { v: 1 } }),
    ];
    const hashes = variants.map((v) => {
      const log = base();
      v(log);
      return log.hash();
    });
    expect(new Set([base().hash(), ...hashes]).size).toBe(variants.length + 1);
  });

  it('stamps events with the scheduler virtual time', async () => {
    const vs = new VirtualScheduler();
    const log = new EventLog({ clock: vs });
    vs.schedule(() => log.record('timer', 'fired'), 250);
    await vs.runUntilIdle();
    expect(log.events.map((e) => e.t)).toEqual([250]);
  });

  it('writes every line to a function sink or a stream sink', () => {
    const seen: string[] = [];
    const written: string[] = [];
    const toFn = new EventLog({ clock: fixedClock(1), sink: (line) => seen.push(line) });
    const toStream = new EventLog({ clock: fixedClock(1), sink: { write: (chunk: string) => written.push(chunk) } });
    for (const log of [toFn, toStream]) program(log, 'ab');
    expect(seen).toEqual([...toFn.lines()]);
    expect(written.join('')).toBe(toFn.toJsonLines());
  });

  it('publishes each event on the iser:sim diagnostics channel while someone listens', () => {
    const received: SimEvent[] = [];
    const listener = (message: unknown): void => {
      received.push(message as SimEvent);
    };
    const log = new EventLog({ clock: fixedClock(5) });
    log.record('before', 'unheard');
    diagnosticsChannel.subscribe(SIM_CHANNEL, listener);
    try {
      const event = log.record('during', 'heard', { n: 1 });
      expect(received).toEqual([event]);
    } finally {
      diagnosticsChannel.unsubscribe(SIM_CHANNEL, listener);
    }
    log.record('after', 'unheard');
    expect(received.map((e) => e.source)).toEqual(['during']);
    expect(eventLine(received[0]!)).toBe('{"t":5,"source":"during","type":"heard","fields":{"n":1}}');
  });
});
