/**
 * The attributes an RC queue pair runs with once the CM has connected it (what `ibv_modify_qp` to RTR and RTS
 * sets in rxe's `rxe_qp_from_attr`), and their checks.
 */
import { RoceError } from '../errors.js';
import { isPsn } from '../psn.js';

/** The path MTUs RoCE allows, in bytes. */
export const PATH_MTUS = [256, 512, 1024, 2048, 4096] as const;

/** A path MTU in bytes. */
export type PathMtu = (typeof PATH_MTUS)[number];

/** rxe's default path MTU on a 1500-byte Ethernet link (1500 − 80 bytes of headers, rounded down). */
export const DEFAULT_PATH_MTU: PathMtu = 1024;

/** The IB enum of a path MTU (1 = 256 … 5 = 4096), as CM REQs carry it. */
export function ibMtuEnum(mtu: PathMtu): number {
  return Math.log2(mtu) - 7;
}

/** Attributes of one RC queue pair. */
export interface RcQpAttributes {
  /** Our QP number (24 bits). */
  readonly qpn: number;
  /** The peer's QP number: DestQP of every packet we send. */
  readonly destQpn: number;
  /** PSN of our first request (`sq_psn`). */
  readonly sqPsn: number;
  /** PSN we expect first from the peer (`rq_psn`). */
  readonly rqPsn: number;
  /** Path MTU in bytes. */
  readonly mtu: PathMtu;
  /** Local ACK timeout exponent: 4.096 µs · 2^timeout, 0 = never retransmit on a timer. */
  readonly timeout: number;
  /** Transport retries (0..7; 7 = forever, an rxe quirk). */
  readonly retryCount: number;
  /** RNR retries (0..7; 7 = forever). */
  readonly rnrRetry: number;
  /** RNR timer code our RNR NAKs carry (`min_rnr_timer`, 0..31). */
  readonly minRnrTimer: number;
  /** RDMA READs we may have outstanding as requester (`max_rd_atomic`). */
  readonly maxRdAtomic: number;
  /** RDMA READs we keep responder resources for (`max_dest_rd_atomic`); 0 refuses READs. */
  readonly maxDestRdAtomic: number;
}

function check(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RoceError('ERR_SOFTROCE_CONFIG', `${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

/** Throws ERR_SOFTROCE_CONFIG unless every attribute is in range. */
export function checkRcQpAttributes(attr: RcQpAttributes): void {
  check('qpn', attr.qpn, 2, 0xffffff);
  check('destQpn', attr.destQpn, 2, 0xffffff);
  if (!isPsn(attr.sqPsn) || !isPsn(attr.rqPsn)) throw new RoceError('ERR_SOFTROCE_CONFIG', 'PSNs are 24-bit integers');
  if (!PATH_MTUS.includes(attr.mtu)) {
    throw new RoceError('ERR_SOFTROCE_CONFIG', `path MTU must be one of ${PATH_MTUS.join(', ')}, got ${attr.mtu}`);
  }
  check('timeout', attr.timeout, 0, 31);
  check('retryCount', attr.retryCount, 0, 7);
  check('rnrRetry', attr.rnrRetry, 0, 7);
  check('minRnrTimer', attr.minRnrTimer, 0, 31);
  check('maxRdAtomic', attr.maxRdAtomic, 0, 255);
  check('maxDestRdAtomic', attr.maxDestRdAtomic, 0, 255);
}
