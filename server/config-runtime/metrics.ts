/**
 * Prometheus metrics of a running target, in their own prom-client Registry (never the global one): commands and
 * bytes per target and LUN, command latency, sessions and connections, and errors by kind. Fed by the server's
 * events and observer; served by {@link MetricsServer}.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CommandEvent, ConnectionClosedEvent, TargetServerEvent } from '../iscsi-target.js';
import { isIserError } from '../../protocol/errors.js';

/** The kinds `iser_target_errors_total` counts. */
export type ErrorKind = 'login_failure' | 'digest_error' | 'aborted_task' | 'check_condition' | 'protocol_reject';

const ERROR_KINDS: readonly ErrorKind[] = [
  'login_failure',
  'digest_error',
  'aborted_task',
  'check_condition',
  'protocol_reject',
];
/** Reject reason 0x02: Data (payload) Digest Error (RFC 7143 §11.17.1). */
const REJECT_DATA_DIGEST = 0x02;
/** SCSI status CHECK CONDITION. */
const CHECK_CONDITION = 0x02;
/** From 50 µs to 2.5 s: memory LUNs answer in microseconds, files and slow links in milliseconds. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5];

/** Label value of a command's direction: read, write or other (no data, bidirectional). */
function opOf(direction: CommandEvent['direction']): 'read' | 'write' | 'other' {
  return direction === 'read' || direction === 'write' ? direction : 'other';
}

/**
 * True when `error` or one of its causes is a digest mismatch (the TCP transport reports ERR_TCP_FRAMING with the
 * framer's ERR_PDU_HEADER_DIGEST as its cause). Bounded: a cause chain is short, a cyclic one is not followed.
 */
export function isDigestError(error: unknown): boolean {
  let at: unknown = error;
  for (let depth = 0; depth < 8 && at instanceof Error; depth++) {
    if (isIserError(at) && at.code.includes('DIGEST')) return true;
    at = at.cause;
  }
  return false;
}

/** The metrics of one target process. */
export class TargetMetrics {
  /** The registry they live in. */
  readonly registry = new Registry();
  readonly #commands: Counter<'target' | 'lun' | 'op'>;
  readonly #bytesRead: Counter<'target' | 'lun'>;
  readonly #bytesWritten: Counter<'target' | 'lun'>;
  readonly #latency: Histogram<'target' | 'op'>;
  readonly #sessions: Gauge<'target'>;
  readonly #connections: Gauge;
  readonly #logins: Counter;
  readonly #errors: Counter<'kind'>;
  readonly #reloads: Counter<'result'>;
  /** Target of each live session, so its end decrements the right gauge. */
  readonly #sessionTargets = new Map<number, string>();

  constructor() {
    const registers = [this.registry];
    this.#commands = new Counter({
      name: 'iser_target_commands_total',
      help: 'SCSI commands finished, by target, LUN and direction (read, write, other)',
      labelNames: ['target', 'lun', 'op'],
      registers,
    });
    this.#bytesRead = new Counter({
      name: 'iser_target_read_bytes_total',
      help: 'Data-in bytes returned to initiators',
      labelNames: ['target', 'lun'],
      registers,
    });
    this.#bytesWritten = new Counter({
      name: 'iser_target_written_bytes_total',
      help: 'Data-out bytes written by commands that ended GOOD',
      labelNames: ['target', 'lun'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'iser_target_command_duration_seconds',
      help: 'Time from a command reaching the SCSI device to its status',
      labelNames: ['target', 'op'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#sessions = new Gauge({
      name: 'iser_target_sessions',
      help: 'Sessions open now, by target ("" for discovery)',
      labelNames: ['target'],
      registers,
    });
    this.#connections = new Gauge({
      name: 'iser_target_connections',
      help: 'Connections open now (login or full feature phase)',
      registers,
    });
    this.#logins = new Counter({ name: 'iser_target_logins_total', help: 'Logins that succeeded', registers });
    this.#errors = new Counter({
      name: 'iser_target_errors_total',
      help: 'Errors by kind: login_failure, digest_error, aborted_task, check_condition, protocol_reject',
      labelNames: ['kind'],
      registers,
    });
    this.#reloads = new Counter({
      name: 'iser_target_reloads_total',
      help: 'Configuration reloads, by result (ok, error)',
      labelNames: ['result'],
      registers,
    });
    // Zeros from the start, so a scrape shows every series an alert may watch.
    for (const kind of ERROR_KINDS) this.#errors.inc({ kind }, 0);
    for (const result of ['ok', 'error']) this.#reloads.inc({ result }, 0);
    this.#connections.set(0);
  }

  /** A server event. */
  event(event: TargetServerEvent): void {
    switch (event.kind) {
      case 'connection':
        this.#connections.inc();
        return;
      case 'login-failed':
        this.#errors.inc({ kind: 'login_failure' });
        return;
      case 'session-started': {
        const target = event.targetName ?? '';
        this.#sessionTargets.set(event.tsih, target);
        this.#sessions.inc({ target });
        this.#logins.inc();
        return;
      }
      case 'connection-joined':
        this.#logins.inc();
        return;
      case 'session-ended': {
        const target = this.#sessionTargets.get(event.tsih);
        if (target === undefined) return;
        this.#sessionTargets.delete(event.tsih);
        this.#sessions.dec({ target });
        return;
      }
      case 'session-event': {
        const e = event.event;
        if (e.kind === 'task-aborted') this.#errors.inc({ kind: 'aborted_task' });
        else if (e.kind === 'rejected') {
          this.#errors.inc({ kind: e.reason === REJECT_DATA_DIGEST ? 'digest_error' : 'protocol_reject' });
        }
        return;
      }
      case 'listening':
        return;
    }
  }

  /** A finished command. */
  command(event: CommandEvent): void {
    const lun = String(event.lun);
    const op = opOf(event.direction);
    this.#commands.inc({ target: event.targetName, lun, op });
    if (event.bytesRead > 0) this.#bytesRead.inc({ target: event.targetName, lun }, event.bytesRead);
    if (event.bytesWritten > 0) this.#bytesWritten.inc({ target: event.targetName, lun }, event.bytesWritten);
    this.#latency.observe({ target: event.targetName, op }, event.latencyMs / 1000);
    if (event.status === CHECK_CONDITION) this.#errors.inc({ kind: 'check_condition' });
  }

  /** A closed connection (a header or data digest error closes it). */
  connectionClosed(event: ConnectionClosedEvent): void {
    this.#connections.dec();
    if (isDigestError(event.error)) this.#errors.inc({ kind: 'digest_error' });
  }

  /** A reload's outcome. */
  reloaded(ok: boolean): void {
    this.#reloads.inc({ result: ok ? 'ok' : 'error' });
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
