import { describe, expect, it } from 'vitest';
import { Info, Option, Reply, TransmissionFlag } from '../../nbd/constants.js';
import { createExport, type NbdExport } from '../../nbd/export.js';
import { answerOption, answerOversizedOption, checkClientFlags, type HandshakeContext } from '../../nbd/handshake.js';
import { MemoryBlockDevice } from '../../nbd/memory-device.js';
import {
  decodeExportNameReply,
  decodeInfo,
  decodeOptionReplyHeader,
  decodeServerEntry,
  encodeInfoRequest,
  type NbdInfo,
} from '../../nbd/wire.js';

const disk = createExport({ name: 'disk', description: 'scratch', device: new MemoryBlockDevice(1 << 20) });
const ro = createExport({ name: 'ro', device: new MemoryBlockDevice(4096, { readOnly: true, blockSize: 4096 }) });
const exportsByName = new Map<string, NbdExport>([
  ['disk', disk],
  ['ro', ro],
]);

function context(overrides: Partial<HandshakeContext> = {}): HandshakeContext {
  return {
    lookup: (name) => exportsByName.get(name),
    list: () => [...exportsByName.values()],
    shuttingDown: false,
    noZeroes: false,
    ...overrides,
  };
}

function replies(send: readonly Buffer[]): { type: number; data: Buffer }[] {
  return send.map((bytes) => {
    const header = decodeOptionReplyHeader(bytes.subarray(0, 20));
    expect(header.length).toBe(bytes.length - 20);
    return { type: header.type, data: bytes.subarray(20) };
  });
}

describe('handshake answers', () => {
  it('NBD_OPT_GO sends export info, block sizes and ACK, then enters transmission', () => {
    const step = answerOption(
      Option.GO,
      encodeInfoRequest({ name: 'disk', requests: [Info.BLOCK_SIZE, Info.NAME, Info.DESCRIPTION] }),
      context(),
    );
    const got = replies(step.send);
    expect(got.at(-1)?.type).toBe(Reply.ACK);
    const infos: NbdInfo[] = got.slice(0, -1).map((r) => {
      expect(r.type).toBe(Reply.INFO);
      return decodeInfo(r.data);
    });
    expect(infos).toContainEqual({
      type: 'export',
      size: 1n << 20n,
      flags:
        TransmissionFlag.HAS_FLAGS |
        TransmissionFlag.SEND_FLUSH |
        TransmissionFlag.SEND_FUA |
        TransmissionFlag.SEND_TRIM |
        TransmissionFlag.SEND_WRITE_ZEROES,
    });
    expect(infos).toContainEqual({ type: 'block-size', minimum: 512, preferred: 4096, maximum: 32 * 1024 * 1024 });
    expect(infos).toContainEqual({ type: 'name', name: 'disk' });
    expect(infos).toContainEqual({ type: 'description', description: 'scratch' });
    expect(step.next.kind).toBe('transmission');
    if (step.next.kind === 'transmission') expect(step.next.selected.blockSizesAcknowledged).toBe(true);
  });

  it('NBD_OPT_INFO answers the same but stays in the handshake; read-only exports say so', () => {
    const step = answerOption(Option.INFO, encodeInfoRequest({ name: 'ro', requests: [] }), context());
    expect(step.next.kind).toBe('continue');
    const exportInfo = replies(step.send)
      .filter((r) => r.type === Reply.INFO)
      .map((r) => decodeInfo(r.data))
      .find((i) => i.type === 'export');
    expect(exportInfo).toEqual({
      type: 'export',
      size: 4096n,
      flags: TransmissionFlag.HAS_FLAGS | TransmissionFlag.READ_ONLY | TransmissionFlag.SEND_FLUSH,
    });
  });

  it('unknown exports get NBD_REP_ERR_UNKNOWN, malformed data NBD_REP_ERR_INVALID', () => {
    expect(
      replies(answerOption(Option.GO, encodeInfoRequest({ name: 'nope', requests: [] }), context()).send)[0]?.type,
    ).toBe(Reply.ERR_UNKNOWN);
    expect(replies(answerOption(Option.GO, Buffer.from([0, 0, 0, 9, 1]), context()).send)[0]?.type).toBe(
      Reply.ERR_INVALID,
    );
    expect(replies(answerOption(Option.LIST, Buffer.from([1]), context()).send)[0]?.type).toBe(Reply.ERR_INVALID);
  });

  it('NBD_OPT_LIST names every export, then ACK', () => {
    const got = replies(answerOption(Option.LIST, Buffer.alloc(0), context()).send);
    expect(got.map((r) => r.type)).toEqual([Reply.SERVER, Reply.SERVER, Reply.ACK]);
    expect(decodeServerEntry(got[0]!.data)).toEqual({ name: 'disk', description: 'scratch' });
  });

  it('unsupported and unknown options get NBD_REP_ERR_UNSUP with a message', () => {
    for (const option of [
      Option.STRUCTURED_REPLY,
      Option.STARTTLS,
      Option.SET_META_CONTEXT,
      Option.EXTENDED_HEADERS,
      4242,
    ]) {
      const [reply] = replies(answerOption(option, Buffer.alloc(0), context()).send);
      expect(reply?.type).toBe(Reply.ERR_UNSUP);
      expect(reply?.data.length).toBeGreaterThan(0);
    }
  });

  it('NBD_OPT_ABORT is acknowledged and closes', () => {
    const step = answerOption(Option.ABORT, Buffer.alloc(0), context());
    expect(replies(step.send).map((r) => r.type)).toEqual([Reply.ACK]);
    expect(step.next.kind).toBe('close');
  });

  it('NBD_OPT_EXPORT_NAME answers size and flags (zeroes unless agreed), and closes for unknown names', () => {
    const step = answerOption(Option.EXPORT_NAME, Buffer.from('disk'), context());
    expect(step.send[0]?.length).toBe(134);
    expect(decodeExportNameReply(step.send[0]!).size).toBe(1n << 20n);
    expect(step.next.kind).toBe('transmission');
    expect(answerOption(Option.EXPORT_NAME, Buffer.from('disk'), context({ noZeroes: true })).send[0]?.length).toBe(10);
    const unknown = answerOption(Option.EXPORT_NAME, Buffer.from('nope'), context());
    expect(unknown.send).toEqual([]);
    expect(unknown.next.kind).toBe('close');
  });

  it('while shutting down, options get NBD_REP_ERR_SHUTDOWN', () => {
    const [reply] = replies(
      answerOption(Option.GO, encodeInfoRequest({ name: 'disk', requests: [] }), context({ shuttingDown: true })).send,
    );
    expect(reply?.type).toBe(Reply.ERR_SHUTDOWN);
  });

  it('oversized options get NBD_REP_ERR_TOO_BIG, an oversized EXPORT_NAME closes', () => {
    expect(replies(answerOversizedOption(Option.GO, 1 << 20).send)[0]?.type).toBe(Reply.ERR_TOO_BIG);
    expect(answerOversizedOption(Option.EXPORT_NAME, 1 << 20).next.kind).toBe('close');
  });

  it('client flags: known bits accepted, unknown bits close', () => {
    expect(checkClientFlags(3)).toEqual({ noZeroes: true });
    expect(checkClientFlags(1)).toEqual({ noZeroes: false });
    expect('close' in checkClientFlags(4)).toBe(true);
    expect('close' in checkClientFlags(0x8000_0000)).toBe(true);
  });
});
