/**
 * SCSI status codes (SAM-5 §5.3): the byte a device server ends every command with.
 */

/** Status codes, named as in SAM-5 table 38. */
export const ScsiStatus = {
  /** The command completed successfully. */
  Good: 0x00,
  /** Sense data describes why the command failed. */
  CheckCondition: 0x02,
  /** PRE-FETCH: the requested blocks fit in the cache. */
  ConditionMet: 0x04,
  /** The logical unit is busy; retry later. */
  Busy: 0x08,
  /** The command conflicts with a reservation held by another I_T nexus. */
  ReservationConflict: 0x18,
  /** The task set is full. */
  TaskSetFull: 0x28,
  /** An ACA condition exists. */
  AcaActive: 0x30,
  /** The command was aborted by another I_T nexus (TAS=1). */
  TaskAborted: 0x40,
} as const;

/** One of the {@link ScsiStatus} codes. */
export type ScsiStatus = (typeof ScsiStatus)[keyof typeof ScsiStatus];

const statusNames = new Map<number, string>(Object.entries(ScsiStatus).map(([name, code]) => [code, name]));

/** The SAM name of a status byte, or `Unknown(0xNN)`. */
export function scsiStatusName(status: number): string {
  return statusNames.get(status) ?? `Unknown(0x${status.toString(16).padStart(2, '0')})`;
}

/** True for the statuses that mean the command did what it was asked (GOOD, CONDITION MET). */
export function isSuccessStatus(status: number): boolean {
  return status === ScsiStatus.Good || status === ScsiStatus.ConditionMet;
}
