/**
 * QP1 (GSI) packets: how a 256-byte MAD travels as a RoCEv2 UD SEND_ONLY (opcode 0x64, DestQP 1,
 * DETH Q_Key 0x80010000, SrcQP 1, AckReq 0), and the checks rxe makes before it hands one to ib_mad.
 */
import { DEFAULT_PKEY } from './bth.js';
import { GSI_QKEY } from './deth.js';
import { RoceError } from './errors.js';
import { GSI_QPN, MAD_BYTES } from './mad.js';
import { RoceOpcode } from './opcodes.js';
import type { RocePacket } from './packet.js';

/** Options of a QP1 packet; PSNs on QP1 are arbitrary (each UD packet stands alone). */
export interface GsiPacketOptions {
  /** PSN (24 bits). */
  readonly psn: number;
  /** P_Key; default 0xFFFF. */
  readonly pkey?: number;
}

/** The UD SEND_ONLY packet that carries `mad` from QP1 to QP1. */
export function gsiPacket(mad: Buffer, options: GsiPacketOptions): RocePacket {
  if (mad.length !== MAD_BYTES) throw new RoceError('ERR_CM_BAD_MAD', `a MAD is 256 bytes, got ${mad.length}`);
  return {
    bth: {
      opcode: RoceOpcode.UD_SEND_ONLY,
      solicited: false,
      migReq: false,
      padCount: 0,
      tver: 0,
      pkey: options.pkey ?? DEFAULT_PKEY,
      fecn: false,
      becn: false,
      destQp: GSI_QPN,
      ackReq: false,
      psn: options.psn,
    },
    deth: { qkey: GSI_QKEY, srcQp: GSI_QPN },
    payload: mad,
  };
}

/** The MAD inside a QP1 packet, after the checks rxe and ib_mad make (ERR_CM_BAD_MAD otherwise). */
export function madFromGsiPacket(pkt: RocePacket): Buffer {
  if (pkt.bth.opcode !== RoceOpcode.UD_SEND_ONLY || pkt.bth.destQp !== GSI_QPN) {
    throw new RoceError('ERR_CM_BAD_MAD', 'a MAD travels as UD SEND_ONLY to QP1');
  }
  if (pkt.deth?.qkey !== GSI_QKEY) throw new RoceError('ERR_CM_BAD_MAD', 'QP1 packets carry Q_Key 0x80010000');
  if (pkt.payload.length !== MAD_BYTES) {
    throw new RoceError('ERR_CM_BAD_MAD', `a MAD is 256 bytes, got ${pkt.payload.length}`);
  }
  return pkt.payload;
}
