/**
 * Routes rdma_cm events from one event channel to whoever owns each id: a one-shot wait while a step of a
 * connect/accept is in flight, a standing handler once a listener or connection exists. Events that arrive
 * while nobody waits are queued per id, so no event is lost between two awaited steps.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import { VerbsError } from '../transports/verbs.js';
import type { Addon, AddonCmEvent, AddonCmId, AddonEventChannel } from './addon.js';

interface Waiter {
  readonly resolve: (event: AddonCmEvent) => void;
  readonly reject: (err: Error) => void;
  readonly timer: Subscription;
}

interface Route {
  readonly queue: AddonCmEvent[];
  waiter?: Waiter;
  handler?: (event: AddonCmEvent) => void;
}

/** One rdma_cm event channel and the ids created on it. */
export class CmRouter {
  private readonly channel: AddonEventChannel;
  private readonly routes = new Map<AddonCmId, Route>();

  constructor(
    addon: Addon,
    private readonly scheduler: SchedulerLike,
  ) {
    this.channel = new addon.EventChannel((event) => {
      this.dispatch(event);
    });
  }

  /** A new RDMA_PS_TCP id on this channel. */
  createId(): AddonCmId {
    const id = this.channel.createId();
    this.routes.set(id, { queue: [] });
    return id;
  }

  /** Starts routing events of an id the channel created for a connect request. */
  adopt(id: AddonCmId): void {
    if (!this.routes.has(id)) this.routes.set(id, { queue: [] });
  }

  /** The next event for `id`, or a VerbsError ERR_VERBS_TIMEOUT after `timeoutMs`. */
  next(id: AddonCmId, timeoutMs: number, what: string): Promise<AddonCmEvent> {
    const route = this.route(id);
    const queued = route.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (route.waiter !== undefined) return Promise.reject(new Error(`CmRouter: two waits on one id (${what})`));
    return new Promise<AddonCmEvent>((resolve, reject) => {
      const timer = this.scheduler.schedule(() => {
        route.waiter = undefined;
        reject(new VerbsError('ERR_VERBS_TIMEOUT', `${what}: no rdma_cm event within ${timeoutMs} ms`));
      }, timeoutMs);
      route.waiter = { resolve, reject, timer };
    });
  }

  /** Hands every event of `id` (the queued ones first) to `handler` from now on. */
  on(id: AddonCmId, handler: (event: AddonCmEvent) => void): void {
    const route = this.route(id);
    route.handler = handler;
    for (let event = route.queue.shift(); event !== undefined; event = route.queue.shift()) handler(event);
  }

  /** Destroys `id` (and its QP, if any is left) and forgets it; errors are ignored: this is teardown. */
  destroy(id: AddonCmId): void {
    const route = this.routes.get(id);
    this.routes.delete(id);
    if (route?.waiter !== undefined) {
      route.waiter.timer.unsubscribe();
      route.waiter.reject(new VerbsError('ERR_VERBS_CLOSED', 'rdma_cm id destroyed while waiting for an event'));
    }
    try {
      id.destroy();
    } catch {
      // already gone
    }
  }

  /**
   * Like {@link destroy}, but the blocking `rdma_destroy_id` runs off the JS thread. The id counts as alive
   * (in {@link size}) until it is really gone, so the channel is not closed under it. Never rejects.
   */
  async destroyAsync(id: AddonCmId): Promise<void> {
    const route = this.routes.get(id);
    if (route?.waiter !== undefined) {
      route.waiter.timer.unsubscribe();
      route.waiter.reject(new VerbsError('ERR_VERBS_CLOSED', 'rdma_cm id destroyed while waiting for an event'));
      route.waiter = undefined;
    }
    if (route !== undefined) route.handler = () => undefined;
    try {
      await id.destroyAsync();
    } catch {
      // already gone, or it failed and leaks until exit: this is teardown
    } finally {
      if (this.routes.get(id) === route) this.routes.delete(id);
    }
  }

  /** Ids still alive on this channel. */
  get size(): number {
    return this.routes.size;
  }

  /** Closes the channel; only possible once every id is destroyed. */
  close(): void {
    this.channel.close();
  }

  private route(id: AddonCmId): Route {
    let route = this.routes.get(id);
    if (route === undefined) {
      route = { queue: [] };
      this.routes.set(id, route);
    }
    return route;
  }

  private dispatch(event: AddonCmEvent): void {
    // A connect request belongs to the listener it arrived on; the new id rides along in event.id.
    const owner = event.type === 'CONNECT_REQUEST' ? event.listenId : event.id;
    if (owner === undefined) return;
    const route = this.routes.get(owner);
    if (route === undefined) {
      if (event.type === 'CONNECT_REQUEST' && event.id !== undefined) this.refuse(event.id);
      return;
    }
    if (route.handler !== undefined) {
      route.handler(event);
    } else if (route.waiter !== undefined) {
      const { resolve, timer } = route.waiter;
      route.waiter = undefined;
      timer.unsubscribe();
      resolve(event);
    } else {
      route.queue.push(event);
    }
  }

  /** A request for a listener that is gone: reject it rather than leave the peer waiting. */
  private refuse(id: AddonCmId): void {
    try {
      id.reject();
    } catch {
      // the peer will time out instead
    }
    try {
      id.destroy();
    } catch {
      // nothing more to do
    }
  }
}
