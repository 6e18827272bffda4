/**
 * Persistent reservations of one logical unit (SPC-4 §5.12): registrations per I_T nexus, at most one
 * reservation, the PRgeneration counter, and which commands conflict with the reservation. Pure and synchronous:
 * PERSISTENT RESERVE OUT returns the unit attentions and task aborts it causes, and the logical unit carries them
 * out. Not supported (and refused by the caller): APTPL, ALL_TG_PT, SPEC_I_PT, REGISTER AND MOVE.
 */
import { encodeIscsiTransportId, type PrFullStatusDescriptor } from '../data/persistent-reservation.js';
import { PrOutAction, PrType } from '../opcodes.js';
import { AdditionalSense, SenseKey } from '../sense-codes.js';
import { checkCondition, invalidFieldInParameterList, reservationConflict } from './conditions.js';
import type { ScsiNexus } from './types.js';

/**
 * How a command touches the medium, for reservation conflicts (SPC-4 table 63, SBC-3 table 13):
 * `always` is allowed under every reservation, `read` and `write` follow the type's read/write rules, and
 * `info` (MODE SENSE, REPORT SUPPORTED OPERATION CODES) conflicts only for unregistered nexuses under an
 * exclusive-access type.
 */
export type AccessClass = 'always' | 'read' | 'write' | 'info';

/** The reservation as READ RESERVATION reports it. */
export interface ReservationView {
  /** The holder's key; 0 for the all-registrants types. */
  readonly key: bigint;
  /** SCOPE (always 0, logical unit). */
  readonly scope: number;
  /** TYPE ({@link PrType}). */
  readonly type: number;
}

/** What a PERSISTENT RESERVE OUT did to other nexuses. */
export interface PrOutEffects {
  /** Unit attentions to raise: `ASC << 8 | ASCQ` and the nexus keys they are for. */
  readonly unitAttentions: readonly { readonly code: number; readonly nexuses: readonly string[] }[];
  /** Nexuses whose tasks PREEMPT AND ABORT aborts. */
  readonly aborted: readonly ScsiNexus[];
}

/** The fields of a PERSISTENT RESERVE OUT the state machine needs. */
export interface PrOutRequest {
  /** SERVICE ACTION ({@link PrOutAction}). */
  readonly action: number;
  /** SCOPE from the CDB. */
  readonly scope: number;
  /** TYPE from the CDB. */
  readonly type: number;
  /** RESERVATION KEY from the parameter list. */
  readonly reservationKey: bigint;
  /** SERVICE ACTION RESERVATION KEY from the parameter list. */
  readonly serviceActionReservationKey: bigint;
}

interface Registrant {
  readonly nexus: ScsiNexus;
  key: bigint;
}

interface Reservation {
  /** Nexus key of the holder; undefined for the all-registrants types, where every registrant holds it. */
  readonly holder: string | undefined;
  readonly type: number;
  readonly scope: number;
}

const NO_EFFECTS: PrOutEffects = { unitAttentions: [], aborted: [] };

/** True for the types where every registrant holds the reservation. */
function isAllRegistrants(type: number): boolean {
  return type === PrType.WriteExclusiveAllRegistrants || type === PrType.ExclusiveAccessAllRegistrants;
}

/** True for the types whose reservation belongs to one nexus but admits all registrants. */
function isRegistrantsOnly(type: number): boolean {
  return type === PrType.WriteExclusiveRegistrantsOnly || type === PrType.ExclusiveAccessRegistrantsOnly;
}

/** The key SPC-4 uses for an I_T nexus. */
export function nexusKey(nexus: ScsiNexus): string {
  return `${nexus.initiatorPortName}\u0000${nexus.targetPortName}`;
}

/** Registrations and the reservation of one logical unit. */
export class PersistentReservations {
  private gen = 0;
  private readonly registrants = new Map<string, Registrant>();
  private reservation: Reservation | undefined;

  /** PRgeneration: bumped by every REGISTER, CLEAR, PREEMPT that changed something. */
  get generation(): number {
    return this.gen;
  }

  /** True when `nexus` (a nexus key) is registered. */
  isRegistered(nexus: string): boolean {
    return this.registrants.has(nexus);
  }

  /** True when `nexus` holds the reservation (any registrant, for the all-registrants types). */
  isHolder(nexus: string): boolean {
    const r = this.reservation;
    if (r === undefined) return false;
    return isAllRegistrants(r.type) ? this.registrants.has(nexus) : r.holder === nexus;
  }

  /** True when a command of class `access` from `nexus` must end in RESERVATION CONFLICT. */
  conflicts(nexus: string, access: AccessClass): boolean {
    const r = this.reservation;
    if (r === undefined || access === 'always' || this.isHolder(nexus)) return false;
    const registered = this.registrants.has(nexus);
    switch (r.type) {
      case PrType.WriteExclusive:
        return access === 'write';
      case PrType.ExclusiveAccess:
        return access !== 'info' || !registered;
      case PrType.WriteExclusiveRegistrantsOnly:
      case PrType.WriteExclusiveAllRegistrants:
        return !registered && access === 'write';
      default: // the exclusive-access registrants types
        return !registered;
    }
  }

  /** Registered keys, in registration order (READ KEYS). */
  keys(): bigint[] {
    return [...this.registrants.values()].map((r) => r.key);
  }

  /** The reservation (READ RESERVATION), or undefined. */
  current(): ReservationView | undefined {
    const r = this.reservation;
    if (r === undefined) return undefined;
    const key = r.holder === undefined ? 0n : (this.registrants.get(r.holder)?.key ?? 0n);
    return { key, scope: r.scope, type: r.type };
  }

  /** One descriptor per registration (READ FULL STATUS). */
  fullStatus(relativeTargetPortId = 1): PrFullStatusDescriptor[] {
    return [...this.registrants.entries()].map(([key, r]) => {
      const holder = this.isHolder(key);
      return {
        key: r.key,
        allTgPt: false,
        holder,
        scope: holder ? (this.reservation?.scope ?? 0) : 0,
        type: holder ? (this.reservation?.type ?? 0) : 0,
        relativeTargetPortId,
        transportId: encodeIscsiTransportId(r.nexus.initiatorPortName),
      };
    });
  }

  /**
   * Carries out a PERSISTENT RESERVE OUT from `nexus`. Throws a RESERVATION CONFLICT or CHECK CONDITION
   * `ScsiStatusError`; the caller has already checked the CDB's scope/type and the parameter list's length
   * and unsupported bits.
   */
  out(nexus: ScsiNexus, request: PrOutRequest): PrOutEffects {
    const self = nexusKey(nexus);
    switch (request.action) {
      case PrOutAction.Register:
        return this.register(nexus, self, request, false);
      case PrOutAction.RegisterAndIgnoreExistingKey:
        return this.register(nexus, self, request, true);
      case PrOutAction.Reserve:
        this.checkRegistered(self, request.reservationKey);
        return this.reserve(self, request);
      case PrOutAction.Release:
        this.checkRegistered(self, request.reservationKey);
        return this.release(self, request);
      case PrOutAction.Clear:
        this.checkRegistered(self, request.reservationKey);
        return this.clear(self);
      case PrOutAction.Preempt:
      case PrOutAction.PreemptAndAbort:
        this.checkRegistered(self, request.reservationKey);
        return this.preempt(self, request, request.action === PrOutAction.PreemptAndAbort);
      default:
        throw new RangeError(`PERSISTENT RESERVE OUT service action ${request.action} is not handled here`);
    }
  }

  /** Forgets every registration and the reservation (a power loss without APTPL). */
  reset(): void {
    this.registrants.clear();
    this.reservation = undefined;
  }

  private checkRegistered(self: string, reservationKey: bigint): void {
    const reg = this.registrants.get(self);
    if (reg?.key !== reservationKey) throw reservationConflict();
  }

  private register(nexus: ScsiNexus, self: string, request: PrOutRequest, ignoreExisting: boolean): PrOutEffects {
    const reg = this.registrants.get(self);
    const newKey = request.serviceActionReservationKey;
    if (reg === undefined) {
      if (!ignoreExisting && request.reservationKey !== 0n) throw reservationConflict();
      if (newKey === 0n) return NO_EFFECTS; // unregistering an unregistered nexus: nothing happens
      this.registrants.set(self, { nexus, key: newKey });
      this.gen++;
      return NO_EFFECTS;
    }
    if (!ignoreExisting && request.reservationKey !== reg.key) throw reservationConflict();
    this.gen++;
    if (newKey !== 0n) {
      reg.key = newKey;
      return NO_EFFECTS;
    }
    return this.unregister(self);
  }

  /** Removes `self`'s registration and releases what it held (SPC-4 §5.12.11.2.2). */
  private unregister(self: string): PrOutEffects {
    const wasHolder = this.isHolder(self);
    this.registrants.delete(self);
    const r = this.reservation;
    if (r === undefined) return NO_EFFECTS;
    if (isAllRegistrants(r.type)) {
      if (this.registrants.size === 0) this.reservation = undefined;
      return NO_EFFECTS;
    }
    if (!wasHolder) return NO_EFFECTS;
    this.reservation = undefined;
    if (!isRegistrantsOnly(r.type)) return NO_EFFECTS;
    return {
      unitAttentions: [{ code: AdditionalSense.ReservationsReleased, nexuses: this.others(self) }],
      aborted: [],
    };
  }

  private reserve(self: string, request: PrOutRequest): PrOutEffects {
    const r = this.reservation;
    if (r === undefined) {
      this.reservation = {
        holder: isAllRegistrants(request.type) ? undefined : self,
        type: request.type,
        scope: request.scope,
      };
      return NO_EFFECTS;
    }
    if (this.isHolder(self) && r.type === request.type && r.scope === request.scope) return NO_EFFECTS;
    throw reservationConflict();
  }

  private release(self: string, request: PrOutRequest): PrOutEffects {
    const r = this.reservation;
    if (r === undefined || !this.isHolder(self)) return NO_EFFECTS;
    if (r.type !== request.type || r.scope !== request.scope) {
      throw checkCondition(SenseKey.IllegalRequest, AdditionalSense.InvalidReleaseOfPersistentReservation);
    }
    this.reservation = undefined;
    if (r.type === PrType.WriteExclusive || r.type === PrType.ExclusiveAccess) return NO_EFFECTS;
    return {
      unitAttentions: [{ code: AdditionalSense.ReservationsReleased, nexuses: this.others(self) }],
      aborted: [],
    };
  }

  private clear(self: string): PrOutEffects {
    const others = this.others(self);
    this.registrants.clear();
    this.reservation = undefined;
    this.gen++;
    return { unitAttentions: [{ code: AdditionalSense.ReservationsPreempted, nexuses: others }], aborted: [] };
  }

  private preempt(self: string, request: PrOutRequest, abort: boolean): PrOutEffects {
    const target = request.serviceActionReservationKey;
    const r = this.reservation;
    const newReservation = (): Reservation => ({
      holder: isAllRegistrants(request.type) ? undefined : self,
      type: request.type,
      scope: request.scope,
    });
    let victims: string[];
    let released: string[] = [];
    if (r !== undefined && isAllRegistrants(r.type) && target === 0n) {
      // All-registrants reservation, key 0: everyone else goes, the preempter takes a new reservation.
      victims = this.others(self);
      this.reservation = newReservation();
    } else if (
      r !== undefined &&
      !isAllRegistrants(r.type) &&
      r.holder !== undefined &&
      this.registrants.get(r.holder)?.key === target
    ) {
      // The holder's key: preempt the reservation itself.
      victims = this.withKey(target, self);
      this.reservation = newReservation();
      if (r.type !== request.type || r.scope !== request.scope) {
        released = this.others(self).filter((n) => !victims.includes(n));
      }
    } else {
      // Just remove registrations; the reservation (if any) stays.
      if (target === 0n) throw invalidFieldInParameterList(8);
      victims = this.withKey(target, self);
      if (victims.length === 0) throw reservationConflict();
    }
    const abortedNexuses = victims.flatMap((n) => {
      const nexus = this.registrants.get(n)?.nexus;
      return nexus === undefined ? [] : [nexus];
    });
    for (const victim of victims) this.registrants.delete(victim);
    this.gen++;
    const unitAttentions: { code: number; nexuses: readonly string[] }[] = [
      { code: AdditionalSense.RegistrationsPreempted, nexuses: victims },
    ];
    if (released.length > 0) unitAttentions.push({ code: AdditionalSense.ReservationsReleased, nexuses: released });
    return { unitAttentions, aborted: abort ? abortedNexuses : [] };
  }

  /** Registered nexus keys other than `self`. */
  private others(self: string): string[] {
    return [...this.registrants.keys()].filter((n) => n !== self);
  }

  /** Registered nexus keys holding `key`, other than `self`. */
  private withKey(key: bigint, self: string): string[] {
    return [...this.registrants.entries()].filter(([n, r]) => n !== self && r.key === key).map(([n]) => n);
  }
}
