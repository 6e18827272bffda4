/**
 * How big the queues and buffers of an iSER connection are, as pure functions of the role, the queue depth and the
 * negotiated keys (shared/reference/iscsi-iser.md §b4; RFC 7145 §6).
 *
 * Key directions (RFC 7145 §6.4, §6.5): InitiatorRecvDataSegmentLength is declared by the initiator and bounds the
 * data segment of every control-type PDU the *target* sends it; TargetRecvDataSegmentLength is declared by the target
 * and bounds what the *initiator* sends it. So each side sizes its receive buffers from the key it declared itself
 * (what the peer may send it) and limits its own Sends by the key the peer declared. `NegotiatedParams` already
 * folds both into `maxRecvDataSegmentLength` per side (the RDSL keys when RDMAExtensions=Yes, MaxRecvDataSegmentLength
 * in a discovery session), which {@link dataSegmentLimits} turns into one side's view.
 *
 * We size from the keys rather than copying the 128-byte full-feature receives of the Linux and FreeBSD initiators:
 * those overrun as soon as a target sends a NOP-In, Text Response or sense data longer than 128 bytes.
 */
import { BHS_LENGTH, ISER_HEADER_LENGTH, MAX_TOTAL_AHS_LENGTH } from '../../protocol/pdu/index.js';
import { dataSegmentLimits, type NegotiatedParams } from '../../protocol/text/index.js';
import type { ConnectionRole } from '../common/pdu-kinds.js';
import type { QpCapabilities, VerbsCapabilities } from '../verbs.js';
import { iserError } from './errors.js';

/** iSER header + BHS: the fixed part of every Send (76 bytes, `ISER_HEADERS_LEN`). */
export const ISER_HEADERS_LENGTH = ISER_HEADER_LENGTH + BHS_LENGTH;

/** The largest data segment of a Login or Text PDU during login (RFC 7143 §13.12 default, before any key applies). */
export const LOGIN_DATA_SEGMENT_LENGTH = 8192;

/** One login-phase receive: iSER header + BHS + 8192 bytes of keys = 8268 bytes. */
export const LOGIN_RECEIVE_LENGTH = ISER_HEADERS_LENGTH + LOGIN_DATA_SEGMENT_LENGTH;

/** Sends an initiator has outstanding besides commands: NOP-Out ×2, Text, TMF ×2, Logout (Linux `ISER_MAX_TX_MISC_PDUS`). */
export const TX_MISC_PDUS = 6;

/** Unexpected PDUs a target sends besides responses: NOP-In ×2, Async ×2 (Linux `ISER_MAX_RX_MISC_PDUS`). */
export const RX_MISC_PDUS = 4;

/** Unsolicited Data-Outs (initiator) or RDMA operations (target) counted per task when sizing the send queue. */
export const INFLIGHT_DATAOUTS = 8;

/** Receives beyond the computed need, for a Reject or two. */
export const RECEIVE_SLACK = 2;

/**
 * The largest data segment a side receives unless configured otherwise: the RFC 7145 default of both RDSL keys and
 * what Linux's ib_iser declares. Data moves by RDMA, so only control PDUs (responses, sense, NOP-In, Text) land in
 * receive buffers; 8 KiB holds any of them.
 */
export const DEFAULT_MAX_RECEIVE_DATA_SEGMENT_LENGTH = 8192;

/**
 * The most any side may be configured to receive per PDU. Every full-feature receive buffer is this big at most and
 * an initiator keeps ~queueDepth of them posted (a target up to queueDepth × (1 + Data-Outs)), so the cap is what
 * keeps a large RDSL offer from pinning gigabytes (16 MiB × 140 receives ≈ 2.2 GiB): 256 KiB × 140 ≈ 35 MiB.
 */
export const RECEIVE_DATA_SEGMENT_LENGTH_CAP = 262_144;

/** The smallest RDSL value RFC 7145 §6.4/§6.5 allows (512). */
export const MIN_RECEIVE_DATA_SEGMENT_LENGTH = 512;

/**
 * `maxReceiveDataSegmentLength` as configured, checked: an integer in 512..{@link RECEIVE_DATA_SEGMENT_LENGTH_CAP}
 * (default {@link DEFAULT_MAX_RECEIVE_DATA_SEGMENT_LENGTH}). Anything else is refused with `ERR_ISER_CONFIG`, never
 * clamped: a silently smaller buffer would break the first PDU that uses the declared size.
 */
export function checkMaxReceiveDataSegmentLength(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_RECEIVE_DATA_SEGMENT_LENGTH;
  if (!Number.isInteger(value) || value < MIN_RECEIVE_DATA_SEGMENT_LENGTH || value > RECEIVE_DATA_SEGMENT_LENGTH_CAP) {
    throw iserError(
      'ERR_ISER_CONFIG',
      `maxReceiveDataSegmentLength ${String(value)} is outside ${MIN_RECEIVE_DATA_SEGMENT_LENGTH}..${RECEIVE_DATA_SEGMENT_LENGTH_CAP}: ` +
        `the iSER transport receives at most ${RECEIVE_DATA_SEGMENT_LENGTH_CAP} bytes per PDU (data moves by RDMA; ` +
        `each posted receive is this big)`,
    );
  }
  return value;
}

/** Tasks in flight per connection unless an option says otherwise (isert's default). */
export const DEFAULT_QUEUE_DEPTH = 128;

/** Send SGEs: the registered iSER header + BHS + AHS, and the data segment. */
export const SEND_SGES = 2;

/** Receive SGEs: one buffer per receive. */
export const RECV_SGES = 1;

/**
 * The QP of one connection: `T*(1+D) + 6 + 4 + 1` send work requests (commands and their unsolicited Data-Outs, or
 * responses and their RDMA operations, plus misc PDUs both ways and one spare), and receives for every PDU the peer
 * may have in flight; 2 send SGEs and 1 receive SGE. Clamped to what the device allows.
 */
export function qpCapabilities(role: ConnectionRole, queueDepth: number, caps: VerbsCapabilities): QpCapabilities {
  const perTask = 1 + INFLIGHT_DATAOUTS;
  const maxSendWr = queueDepth * perTask + TX_MISC_PDUS + RX_MISC_PDUS + 1;
  // The initiator receives a response per request plus the target's unexpected PDUs; the target receives commands
  // with their unsolicited Data-Outs plus the initiator's misc PDUs.
  const maxRecvWr =
    role === 'initiator'
      ? queueDepth + TX_MISC_PDUS + RX_MISC_PDUS + RECEIVE_SLACK
      : queueDepth * perTask + TX_MISC_PDUS + RX_MISC_PDUS + RECEIVE_SLACK;
  return {
    maxSendWr: Math.min(maxSendWr, caps.maxQpWr),
    maxRecvWr: Math.min(maxRecvWr, caps.maxQpWr),
    maxSendSge: Math.min(SEND_SGES, caps.maxSge),
    maxRecvSge: RECV_SGES,
  };
}

/** The largest data segment `role` receives and the largest it may send, from the negotiated keys. */
export function dataSegmentBounds(
  params: NegotiatedParams,
  role: ConnectionRole,
): { readonly receive: number; readonly send: number } {
  const limits = dataSegmentLimits(params, role);
  return { receive: limits.maxRecvDataSegmentLength, send: limits.maxSendDataSegmentLength };
}

/**
 * Bytes of one full-feature receive buffer of `role`: iSER header + BHS + the AHS the peer may add + the largest data
 * segment the peer may send. Only an initiator sends AHS (extended CDB, bidirectional read length), bounded by the
 * MaxAHSLength it declared (256 by default); a target's PDUs carry none.
 */
export function receiveBufferLength(params: NegotiatedParams, role: ConnectionRole): number {
  const ahs = role === 'target' ? Math.min(params.maxAhsLength, MAX_TOTAL_AHS_LENGTH) : 0;
  return ISER_HEADERS_LENGTH + ahs + dataSegmentBounds(params, role).receive;
}

/** How many "unexpected" PDUs of each kind one side may have outstanding at its peer. */
export interface CreditLimits {
  /** SCSI Commands (initiator only; their unsolicited Data-Outs ride on the command's credit). */
  readonly commands: number;
  /** Other requests: initiator NOP-Out pings, TMF, Text, Logout; target NOP-In pings and Async Messages. */
  readonly control: number;
}

/**
 * Credits for the PDUs `role` sends unasked (RFC 7145 §6.7, MaxOutstandingUnexpectedPDUs, declared by the receiver;
 * 0 means no limit). An initiator splits the target's declared number between commands and other requests, so a TMF
 * or a NOP-Out never waits behind a full command window (RFC 7143 §4.2.2.1: a target takes at least one immediate
 * TMF and one other immediate PDU at any time); with no declared limit it uses its queue depth and the Linux misc
 * budget (6). A target sends NOP-In pings and Async Messages within the initiator's declaration or, without one,
 * the Linux misc budget (NOP-In ×2, Async ×2).
 */
export function sendCreditLimits(params: NegotiatedParams, role: ConnectionRole, queueDepth: number): CreditLimits {
  if (role === 'target') {
    const declared = params.maxOutstandingUnexpectedPdus.initiator;
    return { commands: 0, control: declared > 0 ? Math.min(declared, RX_MISC_PDUS) : RX_MISC_PDUS };
  }
  const declared = params.maxOutstandingUnexpectedPdus.target;
  if (declared === 0) return { commands: queueDepth, control: TX_MISC_PDUS };
  const control = Math.max(1, Math.min(TX_MISC_PDUS, Math.floor(declared / 2)));
  return { commands: Math.max(1, Math.min(queueDepth, declared - control)), control };
}

/** Unsolicited Data-Out PDUs one command may send at most (0 with InitialR2T=Yes). */
export function dataOutsPerCommand(params: NegotiatedParams): number {
  if (params.initialR2T) return 0;
  return Math.ceil(params.firstBurstLength / Math.max(1, params.maxRecvDataSegmentLength.target));
}

/**
 * Receives `role` keeps posted in full feature phase: one for every PDU the peer may have in flight, within what
 * the QP holds. Initiator: a response per credited request plus the target's unexpected PDUs (its declaration, or
 * the misc budget). Target: each credited command with its unsolicited Data-Outs, the initiator's other requests,
 * and NOP-Out answers to our own pings. A burst beyond this (a peer ignoring the keys) waits on RNR, which we let it
 * retry forever (rnrRetryCount 7), so it slows but never breaks the connection.
 */
export function receiveRingDepth(
  params: NegotiatedParams,
  role: ConnectionRole,
  queueDepth: number,
  maxRecvWr: number,
): number {
  let depth: number;
  if (role === 'initiator') {
    const credits = sendCreditLimits(params, 'initiator', queueDepth);
    const declared = params.maxOutstandingUnexpectedPdus.initiator;
    const unexpected = declared > 0 ? declared : RX_MISC_PDUS;
    depth = credits.commands + credits.control + unexpected + RECEIVE_SLACK;
  } else {
    const declared = params.maxOutstandingUnexpectedPdus.target;
    const commands = declared > 0 ? Math.min(declared, queueDepth) : queueDepth;
    const control = declared > 0 ? Math.min(declared, TX_MISC_PDUS) : TX_MISC_PDUS;
    const pingAnswers = sendCreditLimits(params, 'target', queueDepth).control;
    depth = commands * (1 + dataOutsPerCommand(params)) + control + pingAnswers + RECEIVE_SLACK;
  }
  return Math.max(1, Math.min(depth, maxRecvWr));
}
