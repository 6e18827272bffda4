/**
 * The PDU exchange of one run, as the suite saw it: what our initiator's core handed its transport and got back
 * (`core`, every transport), and what crossed the wire (`wire`, TCP through the recording proxy: Data-In, R2T and
 * Data-Out included). A failing property's report prints the exchange that led to the failure.
 */
import type { NegotiatedParams } from '../../protocol/text/params.js';
import type { Pdu } from '../../protocol/pdu/pdu.js';
import { describePdu } from './describe.js';

/** Initiator to target (`out`) or back (`in`). */
export type Direction = 'out' | 'in';

/** One PDU seen by a tap. */
export interface RecordedPdu {
  /** Order of recording within the exchange. */
  readonly seq: number;
  /** Scheduler time (ms) when it was seen. */
  readonly timeMs: number;
  /** 1-based number of the connection within the exchange. */
  readonly connection: number;
  readonly direction: Direction;
  readonly layer: 'core' | 'wire';
  readonly pdu: Pdu;
}

/** Most PDUs one exchange keeps per layer; later ones are counted, not kept (bounded memory). */
export const MAX_RECORDED_PDUS = 200_000;

/** The PDUs of one run. */
export class Exchange {
  readonly #core: RecordedPdu[] = [];
  #wire: RecordedPdu[] = [];
  readonly #params = new Map<number, NegotiatedParams>();
  #seq = 0;
  #connections = 0;
  #dropped = 0;

  /** A new connection; returns its number. */
  openConnection(): number {
    this.#connections += 1;
    return this.#connections;
  }

  /** Records a PDU the core sent or received. */
  core(connection: number, direction: Direction, pdu: Pdu, timeMs: number): void {
    if (this.#core.length >= MAX_RECORDED_PDUS) {
      this.#dropped += 1;
      return;
    }
    this.#core.push({ seq: this.#seq++, timeMs, connection, direction, layer: 'core', pdu });
  }

  /** Remembers what a connection negotiated (the transport's `enable`). */
  enabled(connection: number, params: NegotiatedParams): void {
    this.#params.set(connection, params);
  }

  /** Replaces the wire view (decoded from the proxy's bytes after the run). */
  setWire(pdus: readonly Omit<RecordedPdu, 'seq' | 'layer'>[]): void {
    this.#wire = pdus.slice(0, MAX_RECORDED_PDUS).map((p, i) => ({ ...p, seq: i, layer: 'wire' as const }));
  }

  /** Core-level PDUs, in order. */
  get corePdus(): readonly RecordedPdu[] {
    return this.#core;
  }

  /** Wire-level PDUs (empty unless the transport is TCP through the recording proxy). */
  get wirePdus(): readonly RecordedPdu[] {
    return this.#wire;
  }

  /** The most complete view: the wire when recorded, else the core. */
  get pdus(): readonly RecordedPdu[] {
    return this.#wire.length > 0 ? this.#wire : this.#core;
  }

  /** What connection `n` negotiated, once enabled. */
  params(connection: number): NegotiatedParams | undefined {
    return this.#params.get(connection);
  }

  /** Connections opened so far. */
  get connectionCount(): number {
    return this.#connections;
  }

  /** PDUs not kept because of the bound. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The last `limit` PDUs as lines, oldest first (a failure report's "how we got here"). */
  describe(limit = 60): string[] {
    const pdus = this.pdus;
    const shown = pdus.slice(Math.max(0, pdus.length - limit));
    const lines = shown.map(
      (p) =>
        `${p.timeMs.toFixed(3).padStart(10)} ms  c${p.connection} ${p.direction === 'out' ? '→' : '←'} ${describePdu(p.pdu)}`,
    );
    if (pdus.length > shown.length) lines.unshift(`… ${pdus.length - shown.length} earlier PDUs not shown`);
    return lines;
  }
}
