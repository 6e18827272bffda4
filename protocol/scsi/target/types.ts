/**
 * The command execution API the target's SCSI model offers the iSCSI session layer (or any other transport):
 * a command arrives as a CDB with the I_T nexus it came on and a way to pull its data-out; it completes with a
 * status, sense data and data-in.
 *
 * Residuals are the caller's job. The model never returns more data-in than the CDB's allocation or transfer
 * length; the caller compares what it got (the SPDTL) with the Expected Data Transfer Length, truncates, and sets
 * the overflow/underflow residual. For data-out, `cdbTransferLengths` tells the caller how much the CDB moves;
 * the model only looks at `expectedDataTransferLength` to refuse, before pulling anything, a command whose
 * data-out the initiator declared too short (CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN COMMAND
 * INFORMATION UNIT; FCP-4 §9.4.2 option b, which libiscsi's residual tests accept).
 */

/** An I_T nexus: the initiator port and the target port a command came through. */
export interface ScsiNexus {
  /** SCSI initiator port name; for iSCSI `<initiator name>,i,0x<ISID>`. */
  readonly initiatorPortName: string;
  /** SCSI target port name; for iSCSI `<target name>,t,0x<TPGT>`. */
  readonly targetPortName: string;
}

/** Which way data moves, as the transport saw it (R/W bits of the iSCSI SCSI Command). */
export type DataDirection = 'none' | 'read' | 'write' | 'bidi';

/** A command for one logical unit. */
export interface ScsiCommand {
  /** The CDB (6 to 16 bytes; longer with AHS). */
  readonly cdb: Buffer;
  /** Expected Data Transfer Length the initiator declared (bytes, data-out for writes). */
  readonly expectedDataTransferLength: number;
  /** Data direction the initiator declared. */
  readonly direction: DataDirection;
  /** The I_T nexus the command arrived on (reservations and unit attentions are per nexus). */
  readonly nexus: ScsiNexus;
  /**
   * Pulls `length` bytes of data-out starting at `offset` (R2T/Data-Out over TCP, RDMA Read over iSER). The
   * model asks only for what the CDB transfers and only once the command is known to go ahead; a rejection is
   * passed through as the rejection of `execute`.
   */
  getDataOut(offset: number, length: number): Promise<readonly Buffer[]>;
}

/** A command addressed to a LUN of a `ScsiTargetDevice`. */
export interface TargetCommand extends ScsiCommand {
  /** The LUN number (decode the 8-byte LUN field with `decodeLun`). */
  readonly lun: number;
}

/** How a command ended. */
export interface ScsiResponse {
  /** SCSI status (`ScsiStatus`). */
  readonly status: number;
  /** Sense data (fixed or descriptor format per the control mode page's D_SENSE) with CHECK CONDITION. */
  readonly sense?: Buffer;
  /** Data-in, never longer than the CDB's allocation or transfer length. */
  readonly dataIn?: readonly Buffer[];
}
