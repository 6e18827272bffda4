/**
 * The outcome of negotiation: every operational value of a session and connection, with defaults applied.
 *
 * The object is role-neutral (per-direction values are named by side, not "ours"/"theirs"), so an initiator and
 * a target that agree compute equal objects; {@link dataSegmentLimits} gives one side's view.
 */

/** A digest algorithm (RFC 7143 §13.1). */
export type Digest = 'CRC32C' | 'None';

/** The kind of session (RFC 7143 §13.21). */
export type SessionType = 'Normal' | 'Discovery';

/** Task reporting semantics (RFC 7143 §13.23). */
export type TaskReporting = 'RFC3720' | 'ResponseFence' | 'FastAbort';

/** Which end of the connection. */
export type NegotiationRole = 'initiator' | 'target';

/** A value each side declares for itself. */
export interface PerSide<T> {
  /** As declared by (and applying to) the initiator. */
  readonly initiator: T;
  /** As declared by (and applying to) the target. */
  readonly target: T;
}

/** Every negotiated or declared value of a session and one of its connections. */
export interface NegotiatedParams {
  /** SessionType. */
  readonly sessionType: SessionType;
  /** InitiatorName. */
  readonly initiatorName: string | undefined;
  /** InitiatorAlias. */
  readonly initiatorAlias: string | undefined;
  /** TargetName (undefined in a discovery session that did not name one). */
  readonly targetName: string | undefined;
  /** TargetAlias. */
  readonly targetAlias: string | undefined;
  /** TargetAddress, when the target declared one. */
  readonly targetAddress: string | undefined;
  /** TargetPortalGroupTag, when the target declared it. */
  readonly targetPortalGroupTag: number | undefined;
  /** HeaderDigest (always None under iSER). */
  readonly headerDigest: Digest;
  /** DataDigest (always None under iSER). */
  readonly dataDigest: Digest;
  /** MaxConnections. */
  readonly maxConnections: number;
  /** InitialR2T. */
  readonly initialR2T: boolean;
  /** ImmediateData. */
  readonly immediateData: boolean;
  /**
   * The largest data segment each side may receive. Over TCP: each side's MaxRecvDataSegmentLength declaration.
   * Under iSER: InitiatorRecvDataSegmentLength and TargetRecvDataSegmentLength (RFC 7145 §6.2).
   */
  readonly maxRecvDataSegmentLength: PerSide<number>;
  /** MaxBurstLength. */
  readonly maxBurstLength: number;
  /** FirstBurstLength (never above MaxBurstLength). */
  readonly firstBurstLength: number;
  /** DefaultTime2Wait, seconds. */
  readonly defaultTime2Wait: number;
  /** DefaultTime2Retain, seconds. */
  readonly defaultTime2Retain: number;
  /** MaxOutstandingR2T. */
  readonly maxOutstandingR2T: number;
  /** DataPDUInOrder. */
  readonly dataPduInOrder: boolean;
  /** DataSequenceInOrder. */
  readonly dataSequenceInOrder: boolean;
  /** ErrorRecoveryLevel. */
  readonly errorRecoveryLevel: number;
  /** TaskReporting. */
  readonly taskReporting: TaskReporting;
  /** iSCSIProtocolLevel. */
  readonly iscsiProtocolLevel: number;
  /** RDMAExtensions: true only when both sides said Yes (RFC 7145 §6.3). */
  readonly rdmaExtensions: boolean;
  /** InitiatorRecvDataSegmentLength (8192 unless negotiated under iSER). */
  readonly initiatorRecvDataSegmentLength: number;
  /** TargetRecvDataSegmentLength (8192 unless negotiated under iSER). */
  readonly targetRecvDataSegmentLength: number;
  /** MaxOutstandingUnexpectedPDUs each side declared it can receive; 0 is no limit (RFC 7145 §6.7). */
  readonly maxOutstandingUnexpectedPdus: PerSide<number>;
  /** MaxAHSLength the initiator declared (RFC 7145 §6.8). */
  readonly maxAhsLength: number;
  /** TaggedBufferForSolicitedDataOnly the initiator declared (RFC 7145 §6.9). */
  readonly taggedBufferForSolicitedDataOnly: boolean;
  /** iSERHelloRequired the initiator declared (RFC 7145 §6.10). */
  readonly iserHelloRequired: boolean;
  /** X#NodeArchitecture each side declared, if any (RFC 7143 §13.26). */
  readonly nodeArchitecture: PerSide<readonly string[] | undefined>;
}

/** The data segment limits one side must respect. */
export interface DataSegmentLimits {
  /** The largest data segment this side may send. */
  readonly maxSendDataSegmentLength: number;
  /** The largest data segment this side may receive. */
  readonly maxRecvDataSegmentLength: number;
}

/** The limits of `role`: what it may send is what the other side may receive. */
export function dataSegmentLimits(params: NegotiatedParams, role: NegotiationRole): DataSegmentLimits {
  const { initiator, target } = params.maxRecvDataSegmentLength;
  return role === 'initiator'
    ? { maxSendDataSegmentLength: target, maxRecvDataSegmentLength: initiator }
    : { maxSendDataSegmentLength: initiator, maxRecvDataSegmentLength: target };
}
