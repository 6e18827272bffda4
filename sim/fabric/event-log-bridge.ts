/**
 * Records a fabric's trace into the simulator's deterministic event log (sim/trace/event-log.ts): one event per
 * verb-level event, source `fabric/<connection id>` (or `fabric` for host-level events), type the trace kind.
 */
import type { Subscription } from 'rxjs';
import type { EventLog } from '../trace/event-log.js';
import type { SimFabric } from './fabric.js';

/** Logs every trace event of `fabric` into `log` until unsubscribed. `log` must read the fabric's scheduler. */
export function recordFabricTrace(fabric: SimFabric, log: EventLog): Subscription {
  return fabric.trace.subscribe((event) => {
    log.record(event.conn === '' ? 'fabric' : `fabric/${event.conn}`, event.kind, event.fields);
  });
}
