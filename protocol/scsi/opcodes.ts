/**
 * Operation codes (SPC-4 annex D, SBC-3 §5) and the service actions this stack sends or serves.
 */

/** Operation codes, named as in SPC-4 / SBC-3. */
export const Opcode = {
  TestUnitReady: 0x00,
  RequestSense: 0x03,
  Read6: 0x08,
  Write6: 0x0a,
  Inquiry: 0x12,
  ModeSelect6: 0x15,
  Reserve6: 0x16,
  Release6: 0x17,
  ModeSense6: 0x1a,
  StartStopUnit: 0x1b,
  SendDiagnostic: 0x1d,
  PreventAllowMediumRemoval: 0x1e,
  ReadCapacity10: 0x25,
  Read10: 0x28,
  Write10: 0x2a,
  WriteAndVerify10: 0x2e,
  Verify10: 0x2f,
  PreFetch10: 0x34,
  SynchronizeCache10: 0x35,
  WriteSame10: 0x41,
  Unmap: 0x42,
  ModeSelect10: 0x55,
  ModeSense10: 0x5a,
  PersistentReserveIn: 0x5e,
  PersistentReserveOut: 0x5f,
  Read16: 0x88,
  CompareAndWrite: 0x89,
  Write16: 0x8a,
  WriteAndVerify16: 0x8e,
  Verify16: 0x8f,
  PreFetch16: 0x90,
  SynchronizeCache16: 0x91,
  WriteSame16: 0x93,
  ServiceActionIn16: 0x9e,
  ReportLuns: 0xa0,
  MaintenanceIn: 0xa3,
  Read12: 0xa8,
  Write12: 0xaa,
  WriteAndVerify12: 0xae,
  Verify12: 0xaf,
} as const;

/** One of the {@link Opcode} values. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Service actions of SERVICE ACTION IN(16) (9Eh). */
export const ServiceActionIn16 = {
  ReadCapacity16: 0x10,
  GetLbaStatus: 0x12,
} as const;

/** Service actions of MAINTENANCE IN (A3h). */
export const MaintenanceIn = {
  ReportSupportedOperationCodes: 0x0c,
} as const;

/** Service actions of PERSISTENT RESERVE IN (SPC-4 §6.15). */
export const PrInAction = {
  ReadKeys: 0x00,
  ReadReservation: 0x01,
  ReportCapabilities: 0x02,
  ReadFullStatus: 0x03,
} as const;

/** One of the {@link PrInAction} values. */
export type PrInAction = (typeof PrInAction)[keyof typeof PrInAction];

/** Service actions of PERSISTENT RESERVE OUT (SPC-4 §6.16). */
export const PrOutAction = {
  Register: 0x00,
  Reserve: 0x01,
  Release: 0x02,
  Clear: 0x03,
  Preempt: 0x04,
  PreemptAndAbort: 0x05,
  RegisterAndIgnoreExistingKey: 0x06,
  RegisterAndMove: 0x07,
  ReplaceLostReservation: 0x08,
} as const;

/** One of the {@link PrOutAction} values. */
export type PrOutAction = (typeof PrOutAction)[keyof typeof PrOutAction];

/** Persistent reservation types (SPC-4 table 180). */
export const PrType = {
  WriteExclusive: 0x1,
  ExclusiveAccess: 0x3,
  WriteExclusiveRegistrantsOnly: 0x5,
  ExclusiveAccessRegistrantsOnly: 0x6,
  WriteExclusiveAllRegistrants: 0x7,
  ExclusiveAccessAllRegistrants: 0x8,
} as const;

/** One of the {@link PrType} values. */
export type PrType = (typeof PrType)[keyof typeof PrType];

/** True for the reservation types SPC-4 defines. */
export function isPrType(value: number): value is PrType {
  return value === 1 || value === 3 || (value >= 5 && value <= 8);
}

const opcodeNames = new Map<number, string>(Object.entries(Opcode).map(([name, code]) => [code, name]));

/** The name of an operation code, or `Unknown(0xNN)`. */
export function opcodeName(opcode: number): string {
  return opcodeNames.get(opcode) ?? `Unknown(0x${opcode.toString(16).padStart(2, '0')})`;
}

/** CDB length implied by the group code in the opcode's top three bits (SPC-4 §4.2.5.1), or undefined. */
export function cdbLengthOf(opcode: number): number | undefined {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return undefined; // 3: reserved/variable length; 6, 7: vendor specific
  }
}
