/**
 * The target's sessions, found by TSIH or by the session identity RFC 7143 §4.4.3 defines: InitiatorName + ISID
 * + TargetName. It hands out TSIHs (1..65535, never one in use) and answers the login machine's questions: a
 * login naming a TSIH joins that session (or replaces one of its connections), a login with TSIH 0 and the
 * identity of a live session reinstates it (§6.3.5: the old session is closed, the new one takes its place).
 */
import type { ExistingSession, SessionQuery } from '../login/target-login.js';
import { formatIsid, type Isid } from '../pdu/isid.js';
import type { NegotiatedParams, SessionType } from '../text/params.js';
import { targetKey } from './validate.js';

/** What the registry needs to know of a session. */
export interface RegisteredSession {
  /** Its TSIH. */
  readonly tsih: number;
  /** InitiatorName. */
  readonly initiatorName: string;
  /** ISID. */
  readonly isid: Isid;
  /** TargetName (undefined for discovery). */
  readonly targetName: string | undefined;
  /** Normal or Discovery. */
  readonly sessionType: SessionType;
  /** Negotiated values. */
  readonly params: NegotiatedParams;
  /** Its connections' CIDs now. */
  readonly cids: readonly number[];
}

/** The session identity string: initiator, ISID and target (names compared case-insensitively). */
export function sessionIdentity(initiatorName: string, isid: Isid, targetName: string | undefined): string {
  return `${initiatorName.toLowerCase()}\u0000${formatIsid(isid)}\u0000${targetKey(targetName ?? '')}`;
}

/** Sessions by TSIH and identity, with TSIH allocation. */
export class SessionRegistry<S extends RegisteredSession> {
  readonly #byTsih = new Map<number, S>();
  readonly #byIdentity = new Map<string, S>();
  /** TSIHs handed to logins that have not registered (or released) them yet. */
  readonly #reserved = new Set<number>();
  readonly #maxSessions: number;
  #next = 1;

  /** @param maxSessions most sessions (and reserved TSIHs) at once, at most 65535 */
  constructor(maxSessions = 0xffff) {
    this.#maxSessions = Math.min(0xffff, Math.max(1, Math.floor(maxSessions)));
  }

  /** Registered sessions. */
  get size(): number {
    return this.#byTsih.size;
  }

  /** Every registered session. */
  all(): S[] {
    return [...this.#byTsih.values()];
  }

  /** The session with this TSIH. */
  byTsih(tsih: number): S | undefined {
    return this.#byTsih.get(tsih);
  }

  /** The session with this identity. */
  byIdentity(initiatorName: string, isid: Isid, targetName: string | undefined): S | undefined {
    return this.#byIdentity.get(sessionIdentity(initiatorName, isid, targetName));
  }

  /** Sessions logged in to a target. */
  forTarget(targetName: string): S[] {
    const key = targetKey(targetName);
    return this.all().filter((s) => s.targetName !== undefined && targetKey(s.targetName) === key);
  }

  /** A fresh TSIH, reserved until {@link add} or {@link release}; undefined when no more sessions fit. */
  allocateTsih(): number | undefined {
    if (this.#byTsih.size + this.#reserved.size >= this.#maxSessions) return undefined;
    for (let tries = 0; tries < 0xffff; tries++) {
      const tsih = this.#next;
      this.#next = this.#next >= 0xffff ? 1 : this.#next + 1;
      if (!this.#byTsih.has(tsih) && !this.#reserved.has(tsih)) {
        this.#reserved.add(tsih);
        return tsih;
      }
    }
    return undefined;
  }

  /** Gives back a TSIH a login reserved but did not use. */
  release(tsih: number): void {
    this.#reserved.delete(tsih);
  }

  /** Registers a session under its (reserved) TSIH and identity. A session with the same identity must be gone. */
  add(session: S): void {
    this.#reserved.delete(session.tsih);
    this.#byTsih.set(session.tsih, session);
    this.#byIdentity.set(sessionIdentity(session.initiatorName, session.isid, session.targetName), session);
  }

  /** Forgets a session (only if it is the one registered under its TSIH). */
  remove(session: S): void {
    if (this.#byTsih.get(session.tsih) !== session) return;
    this.#byTsih.delete(session.tsih);
    const identity = sessionIdentity(session.initiatorName, session.isid, session.targetName);
    if (this.#byIdentity.get(identity) === session) this.#byIdentity.delete(identity);
  }

  /** The login machine's question: the session a login refers to. */
  find(query: SessionQuery): ExistingSession | undefined {
    const session =
      query.tsih !== 0
        ? this.#byTsih.get(query.tsih)
        : this.byIdentity(query.initiatorName, query.isid, query.targetName);
    if (session === undefined) return undefined;
    // A TSIH only names the session of the same initiator and ISID (RFC 7143 §6.3.1).
    if (
      query.tsih !== 0 &&
      sessionIdentity(session.initiatorName, session.isid, '') !== sessionIdentity(query.initiatorName, query.isid, '')
    ) {
      return undefined;
    }
    return { tsih: session.tsih, sessionType: session.sessionType, params: session.params, cids: [...session.cids] };
  }
}
