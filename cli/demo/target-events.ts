/** Target events as event-log fields: plain values only (errors become their code and message). */
import type { TargetServerEvent } from '../../server/iscsi-target.js';
import type { EventValue } from '../../sim/trace/event-log.js';

function errorFields(error: unknown): { readonly [key: string]: EventValue } | undefined {
  if (error === undefined) return undefined;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : undefined, message: error.message };
  }
  return { message: typeof error === 'string' ? error : 'non-Error value' };
}

/** The fields to log for one target event. */
export function targetEventFields(event: TargetServerEvent): { readonly [key: string]: EventValue } {
  switch (event.kind) {
    case 'listening':
      return { portalGroupTag: event.portalGroupTag, address: `${event.address.host}:${event.address.port}` };
    case 'connection':
      return { remote: `${event.remote.host}:${event.remote.port}`, local: `${event.local.host}:${event.local.port}` };
    case 'login-failed':
      return { remote: `${event.remote.host}:${event.remote.port}`, error: errorFields(event.error) };
    case 'session-started':
      return {
        tsih: event.tsih,
        initiatorName: event.initiatorName,
        targetName: event.targetName,
        sessionType: event.sessionType,
        reinstated: event.reinstated,
      };
    case 'connection-joined':
      return { tsih: event.tsih, cid: event.cid, replaced: event.replaced };
    case 'session-ended':
      return { tsih: event.tsih, reason: errorFields(event.reason) };
    case 'session-event': {
      const e = event.event;
      if (e.kind === 'data-out-failed')
        return { tsih: event.tsih, event: e.kind, itt: e.itt, error: errorFields(e.error) };
      return { tsih: event.tsih, ...e, event: e.kind };
    }
  }
}
