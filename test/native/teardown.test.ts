/**
 * NativeConnection teardown over a stub of the addon (runs on any host, no RDMA needed). rxe on Linux 6.1 can
 * block rdma_destroy_qp for a minute after a QP error; the connection must hand that wait to the addon's
 * promise-returning destroys and keep the event loop free, and still tear down in order: QP, CQ, regions and
 * PD, id, then the streams complete.
 */
import { asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Addon, AddonCmEvent, AddonCmId, AddonCq, AddonMr, AddonPd } from '../../native/addon.js';
import { CmRouter } from '../../native/cm-router.js';
import { CompletionSink, NativeConnection } from '../../native/connection.js';
import { Access, VerbsError } from '../../transports/verbs.js';

interface Gate {
  readonly promise: Promise<void>;
  readonly open: () => void;
}

function gate(): Gate {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Lets timers and I/O callbacks run: if a destroy blocked the loop, this would never return. */
async function loopTurns(n: number): Promise<number> {
  let fired = 0;
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    fired++;
  }
  return fired;
}

function syncDestroyForbidden(): never {
  throw new Error('a blocking destroy was called on the JS thread');
}

/** A connection over a stub binding whose destroys settle only when the test opens their gate. */
function stubConnection(gates: { qp: Gate; cq: Gate; id: Gate }): {
  readonly conn: NativeConnection;
  readonly log: string[];
  readonly emit: (event: AddonCmEvent) => void;
  readonly id: AddonCmId;
} {
  const log: string[] = [];
  let emit: (event: AddonCmEvent) => void = () => undefined;
  const fail = (): never => {
    throw Object.assign(new Error('stub: refused'), { code: 'EINVAL' });
  };
  const id: AddonCmId = {
    bindAddr: fail,
    resolveAddr: fail,
    resolveRoute: fail,
    listen: fail,
    connect: fail,
    accept: fail,
    reject: fail,
    disconnect: () => {
      log.push('disconnect');
    },
    setAckTimeout: fail,
    setMinRnrTimer: fail,
    createQp: fail,
    destroyQp: syncDestroyForbidden,
    destroyQpAsync: () => {
      log.push('destroyQp');
      return gates.qp.promise;
    },
    qpState: () => 'ERROR',
    postSend: fail, // no drain marker: the drain then waits only for the peer's DISCONNECTED
    postRecv: fail,
    localAddress: () => undefined,
    peerAddress: () => undefined,
    deviceName: () => 'stub0',
    queryDevice: fail,
    destroy: syncDestroyForbidden,
    destroyAsync: () => {
      log.push('destroyId');
      return gates.id.promise;
    },
  };
  const cq: AddonCq = {
    close: syncDestroyForbidden,
    closeAsync: () => {
      log.push('closeCq');
      return gates.cq.promise;
    },
  };
  const mr: AddonMr = {
    lkey: 1,
    rkey: 2,
    addr: 0x1000n,
    length: 4096,
    dereg: () => {
      log.push('dereg');
    },
  };
  const pd: AddonPd = {
    regMr: () => mr,
    allocMw: fail,
    dealloc: () => {
      log.push('deallocPd');
    },
  };
  const constants = {
    IBV_ACCESS_LOCAL_WRITE: 1,
    IBV_ACCESS_REMOTE_WRITE: 2,
    IBV_ACCESS_REMOTE_READ: 4,
    IBV_ACCESS_MW_BIND: 16,
    IBV_WR_RDMA_WRITE: 0,
    IBV_WR_RDMA_WRITE_WITH_IMM: 1,
    IBV_WR_SEND: 2,
    IBV_WR_SEND_WITH_IMM: 3,
    IBV_WR_RDMA_READ: 4,
    IBV_WR_SEND_WITH_INV: 9,
    IBV_WR_BIND_MW: 8,
  };
  class StubChannel {
    constructor(onEvent: (event: AddonCmEvent) => void) {
      emit = onEvent;
    }
    createId(): AddonCmId {
      return id;
    }
    close(): void {
      log.push('closeChannel');
    }
  }
  // Only what a connection touches; the rest of the binding is never reached from here.
  const addon = { verbsConstants: constants, EventChannel: StubChannel } as unknown as Addon;
  const router = new CmRouter(addon, asyncScheduler);
  router.adopt(id);
  const conn = new NativeConnection(
    addon,
    router,
    { caps: { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 }, id, pd, cq, sink: new CompletionSink() },
    { scheduler: asyncScheduler, drainTimeoutMs: 60_000, timeoutMs: 60_000 },
    { host: '192.0.2.1', port: 3260 },
    { host: '192.0.2.2', port: 40000 },
    Buffer.alloc(0),
  );
  return {
    conn,
    log,
    emit: (event) => {
      emit(event);
    },
    id,
  };
}

describe('NativeConnection teardown', () => {
  it('leaves the event loop free while the QP destroy never returns', async () => {
    const gates = { qp: gate(), cq: gate(), id: gate() };
    const { conn, log, emit, id } = stubConnection(gates);
    conn.pd.register(Buffer.alloc(4096), Access.LOCAL_WRITE);
    let settled = false;
    const closing = conn.disconnect().then(() => {
      settled = true;
    });
    emit({ type: 'DISCONNECTED', status: 0, id }); // the peer's DREP: the drain is over

    // Timers keep firing: the process would serve its other sessions.
    expect(await loopTurns(20)).toBe(20);
    expect(log).toEqual(['disconnect', 'destroyQp']);
    expect(settled).toBe(false);
    // Nothing reaches the QP while it is being destroyed.
    const refused = ((): unknown => {
      try {
        conn.postRecv([{ wrId: 1, sgl: [] }]);
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(VerbsError);
    expect((refused as VerbsError).code).toBe('ERR_VERBS_CLOSED');

    // Let it finish so the test leaves nothing pending.
    gates.qp.open();
    gates.cq.open();
    gates.id.open();
    await closing;
    expect(settled).toBe(true);
  });

  it('keeps the order QP, CQ, regions and PD, id, then completes the streams', async () => {
    const gates = { qp: gate(), cq: gate(), id: gate() };
    const { conn, log, emit, id } = stubConnection(gates);
    conn.pd.register(Buffer.alloc(4096), Access.LOCAL_WRITE);
    conn.completions.subscribe({ complete: () => log.push('completions complete') });
    conn.events.subscribe({ complete: () => log.push('events complete') });
    const closing = conn.disconnect();
    emit({ type: 'DISCONNECTED', status: 0, id });

    await loopTurns(3);
    expect(log.slice(1)).toEqual(['destroyQp']);
    gates.qp.open();
    await loopTurns(3);
    expect(log.slice(1)).toEqual(['destroyQp', 'closeCq']);
    gates.cq.open();
    await loopTurns(3);
    expect(log.slice(1)).toEqual(['destroyQp', 'closeCq', 'dereg', 'deallocPd', 'destroyId']);
    gates.id.open();
    await closing;
    expect(log.slice(1)).toEqual([
      'destroyQp',
      'closeCq',
      'dereg',
      'deallocPd',
      'destroyId',
      'completions complete',
      'events complete',
    ]);
  });
});
