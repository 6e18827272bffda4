/**
 * Decodes a TCP recording into PDUs. Login PDUs never carry digests; every other PDU carries the digests the login
 * negotiated. Rather than trusting our own view of what was negotiated, each direction is framed under each digest
 * setting and the one under which every CRC32C checks out wins, so the decode is independent of the stack under test.
 */
import { BHS_LENGTH, DIGEST_LENGTH, paddingLength } from '../../protocol/pdu/constants.js';
import { decodePdu } from '../../protocol/pdu/decode.js';
import { dataDigest, headerDigest } from '../../protocol/pdu/digest.js';
import { Opcode, OPCODE_MASK } from '../../protocol/pdu/opcodes.js';
import type { Pdu } from '../../protocol/pdu/pdu.js';
import type { Direction, RecordedPdu } from './exchange.js';
import type { TcpRecording } from './tcp-recorder.js';

interface Digests {
  readonly header: boolean;
  readonly data: boolean;
}

const SETTINGS: readonly Digests[] = [
  { header: false, data: false },
  { header: true, data: false },
  { header: false, data: true },
  { header: true, data: true },
];

/** One framed PDU with the index of the chunk that completed it. */
interface Framed {
  readonly pdu: Pdu;
  readonly chunk: number;
}

interface DirectionDecode {
  readonly framed: Framed[];
  /** CRCs that did not check out, PDUs that did not decode, bytes left over. */
  readonly problems: number;
  readonly leftover: number;
}

function isLogin(opcode: number): boolean {
  return opcode === Opcode.LoginRequest || opcode === Opcode.LoginResponse;
}

/** Frames one direction's chunks under one digest setting. */
function frame(chunks: readonly Buffer[], digests: Digests): DirectionDecode {
  const framed: Framed[] = [];
  let problems = 0;
  let buffer: Buffer = Buffer.alloc(0);
  for (let index = 0; index < chunks.length; index++) {
    buffer = buffer.length === 0 ? (chunks[index] as Buffer) : Buffer.concat([buffer, chunks[index] as Buffer]);
    for (;;) {
      if (buffer.length < BHS_LENGTH) break;
      const opcode = buffer.readUInt8(0) & OPCODE_MASK;
      const login = isLogin(opcode);
      const ahs = buffer.readUInt8(4) * 4;
      const dataLength = buffer.readUIntBE(5, 3);
      const hd = digests.header && !login ? DIGEST_LENGTH : 0;
      const dd = digests.data && !login && dataLength > 0 ? DIGEST_LENGTH : 0;
      const headerEnd = BHS_LENGTH + ahs;
      const dataStart = headerEnd + hd;
      const total = dataStart + dataLength + paddingLength(dataLength) + dd;
      if (buffer.length < total) break;
      const header = buffer.subarray(0, headerEnd);
      const data = buffer.subarray(dataStart, dataStart + dataLength);
      if (hd > 0 && buffer.readUInt32LE(headerEnd) !== headerDigest(header)) problems += 1;
      if (dd > 0 && buffer.readUInt32LE(total - DIGEST_LENGTH) !== dataDigest([data])) problems += 1;
      try {
        framed.push({ pdu: decodePdu(Buffer.from(header), dataLength > 0 ? [Buffer.from(data)] : []), chunk: index });
      } catch {
        problems += 1;
      }
      buffer = buffer.subarray(total);
      // A wrong digest setting turns the stream to garbage: stop early rather than decode noise.
      if (problems > 4) return { framed, problems, leftover: buffer.length };
    }
  }
  return { framed, problems, leftover: buffer.length };
}

/** The best framing of one direction: fewest problems, then least left over. */
function bestFrame(chunks: readonly Buffer[]): DirectionDecode {
  let best: DirectionDecode | undefined;
  for (const digests of SETTINGS) {
    const attempt = frame(chunks, digests);
    if (attempt.problems === 0 && attempt.leftover === 0) return attempt;
    if (
      best === undefined ||
      attempt.problems < best.problems ||
      (attempt.problems === best.problems && attempt.leftover < best.leftover)
    ) {
      best = attempt;
    }
  }
  return best ?? { framed: [], problems: 0, leftover: 0 };
}

/** The PDUs of a recording, both directions merged in the order their last bytes passed the proxy. */
export function decodeRecording(recording: TcpRecording): Omit<RecordedPdu, 'seq' | 'layer'>[] {
  const out: { pdu: Pdu; chunk: number; direction: Direction; timeMs: number }[] = [];
  for (const direction of ['out', 'in'] as const) {
    const indices: number[] = [];
    const chunks: Buffer[] = [];
    recording.chunks.forEach((c, i) => {
      if (c.direction === direction) {
        indices.push(i);
        chunks.push(c.bytes);
      }
    });
    for (const f of bestFrame(chunks).framed) {
      const global = indices[f.chunk] ?? 0;
      out.push({ pdu: f.pdu, chunk: global, direction, timeMs: recording.chunks[global]?.timeMs ?? 0 });
    }
  }
  out.sort((a, b) => a.chunk - b.chunk);
  return out.map((p) => ({ timeMs: p.timeMs, connection: recording.number, direction: p.direction, pdu: p.pdu }));
}

/** Every recording of a window, connection after connection. */
export function decodeRecordings(recordings: readonly TcpRecording[]): Omit<RecordedPdu, 'seq' | 'layer'>[] {
  return recordings.flatMap((r) => decodeRecording(r));
}
