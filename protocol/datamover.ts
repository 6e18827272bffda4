/**
 * The Datamover interface (RFC 5047 / RFC 7145 §7, FreeBSD's ICL, illumos IDM): the iSCSI core speaks iSCSI,
 * a transport moves bytes. It lives in `protocol/` because the core defines what it needs of a transport
 * (dependency inversion); `transports/tcp` and `transports/iser` implement it.
 *
 * The core never sends or receives Data-In, Data-Out or R2T itself:
 *
 * | core asks                      | iSCSI/TCP does                         | iSER does                                  |
 * | ------------------------------ | -------------------------------------- | ------------------------------------------ |
 * | sendControl (+ immediate data) | frame, digest, write                   | Send of iSER header + BHS + data           |
 * | initiator: sendCommand         | remember buffers; unsolicited Data-Out | register buffers, STags in the iSER header |
 * | target: putData                | Data-In PDUs (DataSN, bursts)          | RDMA Write to the initiator's Read STag    |
 * | target: getData                | R2T + Data-Out                         | RDMA Read from the initiator's Write STag  |
 * | taskDone                       | forget the task                        | release / invalidate the STags             |
 * | enable(params)                 | digests, MaxRecvDataSegmentLength      | RDSL keys, receive buffers                 |
 *
 * Numbering fields the transport must fill in its own PDUs (ExpStatSN in Data-Out, StatSN/ExpCmdSN/MaxCmdSN in
 * Data-In and R2T) come from the {@link SequenceSource} the core hands over in {@link DatamoverConnection.enable}.
 */
import type { Observable } from 'rxjs';
import type { Pdu, ScsiCommandPdu, ScsiResponsePdu } from './pdu/index.js';
import type { NegotiatedParams, TransportKind } from './text/index.js';

export type { TransportKind };

/** Where a connection goes to or comes from. */
export interface PortalAddress {
  readonly host: string;
  readonly port: number;
}

/** Live sequence numbers the transport copies into the data PDUs it generates itself. */
export interface SequenceSource {
  /** Initiator: the ExpStatSN to put in Data-Out. */
  expStatSN(): number;
  /** Target: the StatSN (not advanced) to put in Data-In and R2T. */
  statSN(): number;
  /** Target: ExpCmdSN / MaxCmdSN to put in Data-In and R2T. */
  expCmdSN(): number;
  maxCmdSN(): number;
}

/** The initiator's buffers for one SCSI command. Read data lands in `readBuffer`; write data comes from `writeData`. */
export interface InitiatorTaskBuffers {
  /** Where Data-In (or the target's RDMA Writes) land. Its length is the expected read length. */
  readonly readBuffer?: Buffer;
  /** The whole data-out of the command, EDTL bytes. */
  readonly writeData?: readonly Buffer[];
  /**
   * How many leading bytes of `writeData` go unsolicited (immediate data in the command PDU plus unsolicited
   * Data-Out), computed by the session from ImmediateData / InitialR2T / FirstBurstLength.
   */
  readonly immediateLength: number;
  readonly unsolicitedDataOutLength: number;
}

/** What a transport reports about a read: how many bytes were placed (Data-In) before the status arrived. */
export interface InitiatorTaskResult {
  readonly response: ScsiResponsePdu;
  /** Bytes of read data placed in `readBuffer`. */
  readonly bytesRead: number;
}

/** A target-side task the transport knows from the command PDU it delivered. */
export interface TargetTaskRef {
  readonly itt: number;
  readonly lun: bigint;
  readonly expectedDataTransferLength: number;
}

/** One connection's Datamover, as the core sees it. Created by a transport's connector or listener. */
export interface DatamoverConnection {
  readonly kind: TransportKind;
  readonly local: PortalAddress;
  readonly remote: PortalAddress;

  /**
   * Initiator: true when the transport, before it delivers a command's status, zeroes every byte of the task's
   * `readBuffer` that no Data-In placed. The session may then hand it uninitialised memory instead of paying for
   * zero-filling large read buffers. Absent means no such promise: read buffers must arrive zeroed.
   */
  readonly zeroesUnplacedReadBytes?: boolean;

  /**
   * Inbound PDUs the core must see, in order: everything except what the transport consumes itself
   * (Data-In and R2T at the initiator; Data-Out at the target). A status carried in a final Data-In
   * is delivered as the equivalent SCSI Response. A Data-Out the target transport refuses without failing the
   * connection (iSCSI/TCP: out of DataSN order) is delivered for the core to Reject; that task's getData fails.
   * Errors with a transport error when the connection fails; completes when it closes.
   */
  readonly pdus: Observable<Pdu>;

  /** Send_Control: any PDU but SCSI Command (initiator), Data-In, Data-Out and R2T. */
  sendControl(pdu: Pdu): void;

  /**
   * Initiator: send a SCSI Command with its buffers. The session sets `pdu.data` (the immediate data: the first
   * `buffers.immediateLength` bytes of `writeData`) and `pdu.final` from `unsolicitedLengths()` in
   * `protocol/session/data-sequencing.ts`; the transport sends them as given, then the unsolicited Data-Out.
   */
  sendCommand(pdu: ScsiCommandPdu, buffers: InitiatorTaskBuffers): void;

  /**
   * Target: move `data` to the initiator at `offset` of the task's read buffer (Data-In / RDMA Write).
   * Calls for one task come in increasing offset order (DataSequenceInOrder=Yes requires it).
   */
  putData(task: TargetTaskRef, offset: number, data: readonly Buffer[]): Promise<void>;

  /**
   * Target: fetch `length` bytes of the task's data-out at `offset` (immediate/unsolicited, R2T, RDMA Read).
   * Calls for one task come in increasing offset order. The transport fills ExpDataSN of the SCSI Response.
   */
  getData(task: TargetTaskRef, offset: number, length: number): Promise<readonly Buffer[]>;

  /**
   * Both sides: the task is over: release its buffers and tags. The initiator calls it only once the SCSI
   * Response (or the TMF response that ended the task) has arrived, never while the target may still move data.
   */
  taskDone(itt: number): void;

  /**
   * Login finished: apply the negotiated keys (digests, data segment limits; iSER: post receive buffers sized
   * from the RDSL keys) and enter full feature phase. `sequence` supplies the numbers the transport writes.
   * Order: the target sends its final Login Response, then calls `enable`; the initiator receives that
   * response, then calls `enable` before it sends anything else.
   */
  enable(params: NegotiatedParams, sequence: SequenceSource): void;

  /** Closes the connection; pending tasks fail. Resolves once closed. */
  close(): Promise<void>;
}

/** Opens initiator connections (TCP: `node:net`; iSER: a Verbs provider). */
export interface DatamoverConnector {
  readonly kind: TransportKind;
  connect(portal: PortalAddress): Promise<DatamoverConnection>;
}

/** Accepts target connections on a portal. */
export interface DatamoverListener {
  readonly kind: TransportKind;
  readonly address: PortalAddress;
  readonly connections: Observable<DatamoverConnection>;
  close(): Promise<void>;
}
