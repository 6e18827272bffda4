/**
 * What the command implementations see of a logical unit (`UnitContext`) and of the command being run
 * (`Invocation`). The logical unit owns the state; the command modules only act through these.
 */
import type { BlockBackend } from '../backend.js';
import type { ModePages } from './mode-pages.js';
import type { PersistentReservations } from './persistent-reservations.js';
import type { RangeLock } from './range-lock.js';
import type { ScsiNexus } from './types.js';
import type { UnitAttentions, UnitAttentionScope } from './unit-attention.js';
import type { UnitIdentity, UnitLimits } from './unit-config.js';

/** The state of a logical unit, as command implementations use it. */
export interface UnitContext {
  /** The storage. */
  readonly backend: BlockBackend;
  /** INQUIRY identity. */
  readonly identity: UnitIdentity;
  /** Block limits. */
  readonly limits: UnitLimits;
  /** Mode parameters. */
  readonly mode: ModePages;
  /** Persistent reservations. */
  readonly reservations: PersistentReservations;
  /** Unit attentions per nexus. */
  readonly attentions: UnitAttentions;
  /** LBA range locks. */
  readonly locks: RangeLock;
  /** True when the unit was configured read-only. */
  readonly readOnly: boolean;
  /** True after START STOP UNIT stopped it. */
  readonly stopped: boolean;
  /** Stops or starts the unit. */
  setStopped(stopped: boolean): void;
  /** Raises a unit attention. */
  raise(code: number, scope: UnitAttentionScope): void;
  /** Asks the transport to abort the tasks of these nexuses (PREEMPT AND ABORT). */
  abortTasks(nexuses: readonly ScsiNexus[]): void;
}

/** The command being executed. */
export interface Invocation {
  /** The I_T nexus it arrived on. */
  readonly nexus: ScsiNexus;
  /** The same nexus as a map key. */
  readonly nexusKey: string;
  /** The CDB bytes (for field pointers and reserved-bit checks). */
  readonly cdb: Buffer;
  /**
   * Pulls the first `length` bytes of data-out. Refuses (INVALID FIELD IN COMMAND INFORMATION UNIT) without
   * pulling when the initiator declared less; a transport failure rejects the whole command.
   */
  dataOut(length: number): Promise<readonly Buffer[]>;
}
