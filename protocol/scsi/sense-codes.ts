/**
 * Sense keys and additional sense codes (SPC-4 §4.5.6, tables 49 and 51): the "why" of a CHECK CONDITION.
 *
 * An additional sense code is kept as one 16-bit number, ASC in the high byte and ASCQ in the low byte
 * (`0x2400` is INVALID FIELD IN CDB), the way libiscsi and the T10 tables list them.
 */

/** Sense keys, named as in SPC-4 table 49. */
export const SenseKey = {
  /** Nothing to report (e.g. REQUEST SENSE with no pending condition). */
  NoSense: 0x0,
  /** The command succeeded after recovery. */
  RecoveredError: 0x1,
  /** The logical unit cannot be accessed now (stopped, becoming ready, no medium). */
  NotReady: 0x2,
  /** An unrecovered error on the medium. */
  MediumError: 0x3,
  /** A non-recoverable hardware failure. */
  HardwareError: 0x4,
  /** The CDB or its parameter data is invalid. */
  IllegalRequest: 0x5,
  /** A unit attention condition (reset, reservations changed, mode changed, ...). */
  UnitAttention: 0x6,
  /** The medium is write protected, or another data protection refusal. */
  DataProtect: 0x7,
  /** A write-once device met a blank (or non-blank) medium. */
  BlankCheck: 0x8,
  /** Vendor specific. */
  VendorSpecific: 0x9,
  /** EXTENDED COPY aborted. */
  CopyAborted: 0xa,
  /** The device server aborted the command. */
  AbortedCommand: 0xb,
  /** Reserved (formerly EQUAL). */
  Reserved: 0xc,
  /** A buffered device reached the end of the partition. */
  VolumeOverflow: 0xd,
  /** VERIFY or COMPARE AND WRITE found data that differs. */
  Miscompare: 0xe,
  /** Completed; see the additional sense code. */
  Completed: 0xf,
} as const;

/** One of the {@link SenseKey} values. */
export type SenseKey = (typeof SenseKey)[keyof typeof SenseKey];

const senseKeyNames = new Map<number, string>(Object.entries(SenseKey).map(([name, code]) => [code, name]));

/** The SPC name of a sense key, or `Unknown(0xN)`. */
export function senseKeyName(key: number): string {
  return senseKeyNames.get(key) ?? `Unknown(0x${key.toString(16)})`;
}

/** Common additional sense codes as `ASC << 8 | ASCQ`, named as in SPC-4 table 51. */
export const AdditionalSense = {
  NoAdditionalSenseInformation: 0x0000,
  LogicalUnitNotReadyCauseNotReportable: 0x0400,
  LogicalUnitIsInProcessOfBecomingReady: 0x0401,
  LogicalUnitNotReadyInitializingCommandRequired: 0x0402,
  LogicalUnitNotReadyManualInterventionRequired: 0x0403,
  LogicalUnitNotReadyFormatInProgress: 0x0404,
  LogicalUnitCommunicationFailure: 0x0800,
  WriteError: 0x0c00,
  InvalidFieldInCommandInformationUnit: 0x0e03,
  UnrecoveredReadError: 0x1100,
  ParameterListLengthError: 0x1a00,
  MiscompareDuringVerifyOperation: 0x1d00,
  MiscompareVerifyOfUnmappedLba: 0x1d01,
  InvalidCommandOperationCode: 0x2000,
  LogicalBlockAddressOutOfRange: 0x2100,
  InvalidFieldInCdb: 0x2400,
  LogicalUnitNotSupported: 0x2500,
  InvalidFieldInParameterList: 0x2600,
  ParameterNotSupported: 0x2601,
  ParameterValueInvalid: 0x2602,
  InvalidReleaseOfPersistentReservation: 0x2604,
  WriteProtected: 0x2700,
  HardwareWriteProtected: 0x2701,
  LogicalUnitSoftwareWriteProtected: 0x2702,
  PowerOnResetOrBusDeviceResetOccurred: 0x2900,
  PowerOnOccurred: 0x2901,
  ScsiBusResetOccurred: 0x2902,
  BusDeviceResetFunctionOccurred: 0x2903,
  DeviceInternalReset: 0x2904,
  ITNexusLossOccurred: 0x2907,
  ParametersChanged: 0x2a00,
  ModeParametersChanged: 0x2a01,
  ReservationsPreempted: 0x2a03,
  ReservationsReleased: 0x2a04,
  RegistrationsPreempted: 0x2a05,
  CapacityDataHasChanged: 0x2a09,
  CommandsClearedByAnotherInitiator: 0x2f00,
  SavingParametersNotSupported: 0x3900,
  MediumNotPresent: 0x3a00,
  ReportedLunsDataHasChanged: 0x3f0e,
  InquiryDataHasChanged: 0x3f03,
  InternalTargetFailure: 0x4400,
  DataPhaseError: 0x4b00,
  LogicalUnitFailedSelfConfiguration: 0x4c00,
  InsufficientRegistrationResources: 0x5504,
} as const;

/** One of the {@link AdditionalSense} codes (or any other `ASC << 8 | ASCQ`). */
export type AdditionalSense = (typeof AdditionalSense)[keyof typeof AdditionalSense];

const additionalSenseNames = new Map<number, string>(
  Object.entries(AdditionalSense).map(([name, code]) => [code, name]),
);

/** Packs an ASC and ASCQ into the 16-bit form {@link AdditionalSense} uses. */
export function additionalSenseCode(asc: number, ascq: number): number {
  return ((asc & 0xff) << 8) | (ascq & 0xff);
}

/** The name of an ASC/ASCQ pair from {@link AdditionalSense}, or `ASC 0xNN ASCQ 0xNN`. */
export function additionalSenseName(asc: number, ascq: number): string {
  return (
    additionalSenseNames.get(additionalSenseCode(asc, ascq)) ??
    `ASC 0x${asc.toString(16).padStart(2, '0')} ASCQ 0x${ascq.toString(16).padStart(2, '0')}`
  );
}
