/**
 * Diagnostics for a stalled iSER connection: a listener wrapper that keeps the connections it hands out, and a
 * one-line summary of each one's send queue, receive ring and tasks. It reads private fields (by name, at run
 * time): only for printing when a guest test stalls, never for assertions.
 */
import { tap } from 'rxjs';
import type { DatamoverListener } from '../../../protocol/datamover.js';
import type { IserConnection, IserListener } from '../../../transports/iser/index.js';

/** The listener, and every connection it accepted so far. */
export function keepingConnections(inner: IserListener): {
  readonly listener: DatamoverListener;
  readonly connections: IserConnection[];
} {
  const connections: IserConnection[] = [];
  return {
    connections,
    listener: {
      kind: inner.kind,
      address: inner.address,
      connections: inner.connections.pipe(tap((c) => connections.push(c))),
      close: () => inner.close(),
    },
  };
}

function field(o: unknown, name: string): unknown {
  return typeof o === 'object' && o !== null ? Reflect.get(o, name) : undefined;
}

function num(o: unknown, name: string): string {
  const v = field(o, name);
  return typeof v === 'number' ? String(v) : '?';
}

/** "sq=inflight/queued rq=posted/lent tasks=n closed=b" for one connection. */
export function describeIser(c: IserConnection): string {
  const requests = field(c, 'requests');
  const receives = field(c, 'receives');
  const tasks = field(field(c, 'targetTasks'), 'tasks');
  const pending = field(c, 'pending');
  return (
    `sq=${num(requests, 'sendsInFlight')}/${num(requests, 'sendsQueued')} ` +
    `rq=${num(receives, 'postedCount')}/${num(receives, 'lentCount')} ` +
    `tasks=${tasks instanceof Map ? tasks.size : '?'} pending=${pending instanceof Set ? pending.size : '?'} ` +
    `closed=${String(field(c, 'closed'))}`
  );
}
