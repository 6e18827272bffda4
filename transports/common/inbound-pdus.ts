/**
 * The `pdus` stream of a connection: multicast to every subscriber, held back until the first one subscribes (so
 * nothing received between connect() and subscribe() is lost), bounded, and replaying its end to late subscribers.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Pdu } from '../../protocol/pdu/index.js';

/** Default bound on PDUs held while nobody has subscribed yet. */
export const DEFAULT_INBOUND_BACKLOG = 1024;

type Ending = { readonly error: unknown } | { readonly error?: undefined };

/** A connection's inbound PDU stream; the owner pushes, the core subscribes. */
export class InboundPdus {
  /** The observable the connection exposes as `pdus`. */
  readonly observable: Observable<Pdu>;
  private readonly subscribers = new Set<Subscriber<Pdu>>();
  private backlog: Pdu[] | undefined = [];
  private ending: Ending | undefined;

  /**
   * @param onFirstSubscriber called once, after the backlog went to the first subscriber (e.g. start reading).
   * @param maxBacklog most PDUs held before the first subscriber.
   */
  constructor(
    private readonly onFirstSubscriber: () => void = () => undefined,
    private readonly maxBacklog = DEFAULT_INBOUND_BACKLOG,
  ) {
    this.observable = new Observable<Pdu>((subscriber) => {
      const backlog = this.backlog;
      this.backlog = undefined;
      for (const pdu of backlog ?? []) subscriber.next(pdu);
      if (this.ending !== undefined) {
        end(subscriber, this.ending);
        return undefined;
      }
      this.subscribers.add(subscriber);
      if (backlog !== undefined) this.onFirstSubscriber();
      return () => this.subscribers.delete(subscriber);
    });
  }

  /** True once someone has subscribed. */
  get started(): boolean {
    return this.backlog === undefined;
  }

  /** True after error() or complete(). */
  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** Delivers a PDU; false when it had to be held and the backlog is full (the owner should fail). */
  push(pdu: Pdu): boolean {
    if (this.ending !== undefined) return true;
    if (this.backlog !== undefined) {
      if (this.backlog.length >= this.maxBacklog) return false;
      this.backlog.push(pdu);
      return true;
    }
    for (const s of [...this.subscribers]) s.next(pdu);
    return true;
  }

  /** Ends the stream with an error (once; later endings are ignored). */
  error(error: unknown): void {
    this.finish({ error });
  }

  /** Ends the stream normally (once; later endings are ignored). */
  complete(): void {
    this.finish({});
  }

  private finish(ending: Ending): void {
    if (this.ending !== undefined) return;
    this.ending = ending;
    const subscribers = [...this.subscribers];
    this.subscribers.clear();
    for (const s of subscribers) end(s, ending);
  }
}

function end(subscriber: Subscriber<Pdu>, ending: Ending): void {
  if ('error' in ending && ending.error !== undefined) subscriber.error(ending.error);
  else subscriber.complete();
}
