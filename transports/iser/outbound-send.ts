/**
 * Building one Send: SGE 0 is a registered slot holding [iSER header (28) | BHS (48) | AHS], SGE 1 the data
 * segment. No padding, no digests (RFC 7145 §7.2).
 *
 * Where the data segment comes from:
 * - SCSI data (immediate data, unsolicited Data-Out): an SGE of the caller's registered buffer, never copied;
 * - control data (Login/Text keys, NOP data, sense, a Reject's header): small enough, it is copied into the slot
 *   right after the header (one SGE); otherwise a single registrable chunk is registered in place, and anything
 *   else goes through a registered bounce buffer.
 */
import { encodeHeader, encodeIserMessage, type IserControlHeader, type Pdu } from '../../protocol/pdu/index.js';
import { totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import type { MemoryRegion, Sge } from '../verbs.js';
import type { Registrar } from './registrar.js';
import { slotSge, type Slot, type SlotPool } from './slot-pool.js';

/** Bytes of one header slot: iSER header + BHS + the largest AHS (1020) fit, with room for small control data. */
export const SEND_SLOT_LENGTH = 2048;

/** Header slots per registered slab. */
export const SEND_SLOTS_PER_SLAB = 64;

/** Where a Send's data segment comes from. */
export type SendData =
  | { readonly kind: 'none' }
  /** Registered SCSI data: sent from where it is. */
  | { readonly kind: 'registered'; readonly sge: Sge }
  /** Control data in arbitrary buffers. */
  | { readonly kind: 'control'; readonly chunks: readonly Buffer[] };

/** A Send ready to post, and what to release when it completes. */
export interface PreparedSend {
  readonly sgl: readonly Sge[];
  readonly slot: Slot;
  /** Registrations made for this Send alone. */
  readonly temporary: readonly MemoryRegion[];
  /** Bytes the Send carries. */
  readonly length: number;
  /** Control-data bytes copied (into the slot or a bounce buffer); never SCSI payload. */
  readonly controlCopied: number;
}

/** A Send's headers, encoded when it is asked for (so encoding errors reach the caller at once). */
export interface EncodedSend {
  /** iSER header + BHS + AHS. */
  readonly headers: Buffer;
  readonly data: SendData;
}

/** Encodes the headers of `pdu` (whose `data` must describe the data segment's length). */
export function encodeSend(pdu: Pdu, iser: IserControlHeader, data: SendData): EncodedSend {
  const iserHeader = encodeIserMessage(iser);
  const header = encodeHeader(pdu);
  const headers = Buffer.allocUnsafeSlow(iserHeader.length + header.length);
  iserHeader.copy(headers, 0);
  header.copy(headers, iserHeader.length);
  return { headers, data };
}

/** Puts an encoded Send into a registered slot (and registers its data if needed), ready to post. */
export function prepareSend(slots: SlotPool, registrar: Registrar, encoded: EncodedSend): PreparedSend {
  const { headers, data } = encoded;
  const headerLength = headers.length;
  const slot = slots.take();
  headers.copy(slot.bytes, 0);
  switch (data.kind) {
    case 'none':
      return { sgl: [slotSge(slot, headerLength)], slot, temporary: [], length: headerLength, controlCopied: 0 };
    case 'registered': {
      const sgl = data.sge.length > 0 ? [slotSge(slot, headerLength), data.sge] : [slotSge(slot, headerLength)];
      return { sgl, slot, temporary: [], length: headerLength + data.sge.length, controlCopied: 0 };
    }
    case 'control': {
      const length = totalLength(data.chunks);
      if (length === 0) {
        return { sgl: [slotSge(slot, headerLength)], slot, temporary: [], length: headerLength, controlCopied: 0 };
      }
      if (headerLength + length <= slot.length) {
        let at = headerLength;
        for (const chunk of data.chunks) at += chunk.copy(slot.bytes, at);
        return { sgl: [slotSge(slot, at)], slot, temporary: [], length: at, controlCopied: length };
      }
      const nonEmpty = data.chunks.filter((c) => c.length > 0);
      const only = nonEmpty.length === 1 ? nonEmpty[0] : undefined;
      let mr = only === undefined ? undefined : registrar.inPlace(only, 0, false);
      let copied = 0;
      if (mr === undefined) {
        mr = registrar.bounce(length, 0, false);
        for (const chunk of data.chunks) copied += chunk.copy(mr.buffer, copied);
      }
      return {
        sgl: [slotSge(slot, headerLength), { mr, offset: 0, length }],
        slot,
        temporary: [mr],
        length: headerLength + length,
        controlCopied: copied,
      };
    }
  }
}
