/**
 * A deterministic event log: structured events stamped with virtual time, serialized as JSON lines whose bytes
 * depend only on the events (sorted keys, fixed renderings of bigint and bytes), so one seed gives one hash.
 *
 * Each event is also published on the `node:diagnostics_channel` channel {@link SIM_CHANNEL} when someone listens.
 */
import { createHash, type Hash } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { TimestampProvider } from 'rxjs';
import { TraceError } from './errors.js';

/** The diagnostics channel every logged event is published on. */
export const SIM_CHANNEL = 'iser:sim';

/** A value an event field may hold. bigint renders as `{"$bigint":"…"}`, bytes as `{"$bytes":"<hex>"}`. */
export type EventValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | bigint
  | Uint8Array
  | readonly EventValue[]
  | { readonly [key: string]: EventValue };

/** One logged event. */
export interface SimEvent {
  /** Virtual time in ms. */
  readonly t: number;
  /** Component that emitted it, e.g. `fabric/qp-3` or `initiator`. */
  readonly source: string;
  /** What happened, e.g. `pdu-sent`, `timer-fired`. */
  readonly type: string;
  /** Details; `undefined` values are left out, as in JSON. */
  readonly fields: { readonly [key: string]: EventValue };
}

/** Where serialized lines go: a function gets each line without a newline, a stream gets `line + '\n'`. */
export type EventSink = ((line: string) => void) | { write(chunk: string): unknown };

/** Options of an {@link EventLog}. */
export interface EventLogOptions {
  /** Source of `t` for {@link EventLog.record} (a virtual scheduler under sim). */
  readonly clock: TimestampProvider;
  /** Also send every line here. */
  readonly sink?: EventSink;
  /** Keep events and lines in memory (default true); the hash is kept either way. */
  readonly keep?: boolean;
}

/** Renders a value as canonical JSON: sorted keys, no whitespace, fixed encodings for non-JSON types. */
export function canonicalJson(value: EventValue): string {
  const seen = new Set<object>();
  const render = (v: EventValue, where: string): string | undefined => {
    if (v === undefined) return undefined;
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') {
      if (Number.isFinite(v)) return JSON.stringify(Object.is(v, -0) ? 0 : v);
      return `{"$number":${JSON.stringify(String(v))}}`;
    }
    if (typeof v === 'bigint') return `{"$bigint":"${v.toString()}"}`;
    if (typeof v !== 'object') {
      throw new TraceError('ERR_TRACE_UNSERIALIZABLE', `${where}: cannot log a ${typeof v}`);
    }
    if (v instanceof Uint8Array)
      return `{"$bytes":"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"}`;
    if (seen.has(v)) throw new TraceError('ERR_TRACE_UNSERIALIZABLE', `${where}: cyclic value`);
    seen.add(v);
    try {
      if (isList(v)) return `[${v.map((item, i) => render(item, `${where}[${i}]`) ?? 'null').join(',')}]`;
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new TraceError('ERR_TRACE_UNSERIALIZABLE', `${where}: only plain objects can be logged`);
      }
      const parts: string[] = [];
      for (const key of Object.keys(v).sort()) {
        const rendered = render(v[key], `${where}.${key}`);
        if (rendered !== undefined) parts.push(`${JSON.stringify(key)}:${rendered}`);
      }
      return `{${parts.join(',')}}`;
    } finally {
      seen.delete(v);
    }
  };
  return render(value, '$') ?? 'null';
}

function isList(v: object): v is readonly EventValue[] {
  return Array.isArray(v);
}

/** The JSON line of one event: `{"t":…,"source":…,"type":…,"fields":{…sorted}}`. */
export function eventLine(event: SimEvent): string {
  const t = canonicalJson(event.t);
  return `{"t":${t},"source":${JSON.stringify(event.source)},"type":${JSON.stringify(event.type)},"fields":${canonicalJson(event.fields)}}`;
}

/** An append-only log of {@link SimEvent}s with a running SHA-256 over its JSON lines. */
export class EventLog {
  private readonly clock: TimestampProvider;
  private readonly sink: EventSink | undefined;
  private readonly keep: boolean;
  private readonly kept: SimEvent[] = [];
  private readonly keptLines: string[] = [];
  private readonly digest: Hash = createHash('sha256');
  private count = 0;
  private readonly channel = diagnosticsChannel.channel(SIM_CHANNEL);

  /** Creates an empty log reading time from `opts.clock`. */
  constructor(opts: EventLogOptions) {
    this.clock = opts.clock;
    this.sink = opts.sink;
    this.keep = opts.keep ?? true;
  }

  /** Logs an event at the clock's current time and returns it. */
  record(source: string, type: string, fields: SimEvent['fields'] = {}): SimEvent {
    return this.append({ t: this.clock.now(), source, type, fields });
  }

  /** Logs a fully formed event (its own `t`). */
  append(event: SimEvent): SimEvent {
    const line = eventLine(event);
    this.digest.update(`${line}\n`);
    this.count++;
    if (this.keep) {
      this.kept.push(event);
      this.keptLines.push(line);
    }
    if (this.sink !== undefined) {
      if (typeof this.sink === 'function') this.sink(line);
      else this.sink.write(`${line}\n`);
    }
    if (this.channel.hasSubscribers) this.channel.publish(event);
    return event;
  }

  /** Number of events logged. */
  get size(): number {
    return this.count;
  }

  /** The kept events (empty when `keep` is false). */
  get events(): readonly SimEvent[] {
    return this.kept;
  }

  /** The kept lines (without newlines). */
  lines(): readonly string[] {
    return this.keptLines;
  }

  /** The kept lines as one JSON-lines text, each line ending in `\n`. */
  toJsonLines(): string {
    return this.keptLines.map((l) => `${l}\n`).join('');
  }

  /** Hex SHA-256 of every line logged so far (each followed by `\n`), kept or not. */
  hash(): string {
    return this.digest.copy().digest('hex');
  }
}
