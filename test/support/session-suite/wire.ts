/**
 * Decodes what a {@link TcpProxy} recorded: each direction framed as iSCSI over TCP, login PDUs without digests,
 * then (after the last Login PDU) with the digests the test expects. The framer verifies every CRC32C, so a
 * successful decode with digests on proves they were on the wire and right.
 */
import {
  decodePdu,
  FramerError,
  MAX_DATA_SEGMENT_LENGTH,
  mayEndLoginPhase,
  PduFramer,
  type Framed,
  type Pdu,
  type PduKind,
  type PduOf,
} from '../../../protocol/pdu/index.js';

/** Digests expected after login. */
export interface WireDigests {
  readonly headerDigest: boolean;
  readonly dataDigest: boolean;
}

/** One direction of a connection, decoded. */
export interface DecodedDirection {
  /** The PDUs, in order, header and data digests verified where expected. */
  readonly pdus: Pdu[];
  /** PDUs whose data digest did not match. */
  readonly dataDigestErrors: number;
  /** Bytes left at the end that do not make a whole PDU (a cut, or a truncated recording). */
  readonly trailingBytes: number;
  /** Why framing stopped early, if it did (e.g. a header digest mismatch). */
  readonly error: Error | undefined;
}

/** Frames one direction's bytes. */
export function decodeDirection(bytes: Buffer, digests: WireDigests): DecodedDirection {
  const framer = new PduFramer({
    maxDataSegmentLength: MAX_DATA_SEGMENT_LENGTH,
    pauseAfter: mayEndLoginPhase,
    maxBufferedBytes: Number.MAX_SAFE_INTEGER,
  });
  const pdus: Pdu[] = [];
  let dataDigestErrors = 0;
  let error: Error | undefined;
  const take = (framed: readonly Framed[]): void => {
    for (const item of framed) {
      if (item.type === 'data-digest-error') dataDigestErrors += 1;
      else pdus.push(decodePdu(item.header, item.data));
    }
  };
  try {
    take(framer.push(bytes));
    // One pause per login: digests switch on behind the last Login PDU (bounded by the PDUs in the recording).
    for (let guard = 0; framer.paused && guard < 16; guard++) {
      framer.setDigests(digests);
      take(framer.resume());
    }
  } catch (err) {
    if (err instanceof FramerError) take(err.framed);
    error = err instanceof Error ? err : new Error(String(err));
  }
  return { pdus, dataDigestErrors, trailingBytes: error === undefined ? framer.bufferedBytes : 0, error };
}

/** The PDUs of one kind, typed. */
export function pdusOfKind<K extends PduKind>(pdus: readonly Pdu[], kind: K): PduOf<K>[] {
  return pdus.filter((p): p is PduOf<K> => p.kind === kind);
}
