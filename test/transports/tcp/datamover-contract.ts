/**
 * Role-level tests of a DatamoverConnection pair, written once and run on every implementation (real TCP on
 * loopback, the in-memory pair). Both roles are driven directly by the test: no session layer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DatamoverConnection, TargetTaskRef } from '../../../protocol/datamover.js';
import { isIserError } from '../../../protocol/errors.js';
import type { ScsiCommandPdu } from '../../../protocol/pdu/index.js';
import { unsolicitedLengths } from '../../../protocol/session/data-sequencing.js';
import { totalLength } from '../../../protocol/session/data-sequencing-chunks.js';
import type { NegotiatedParams } from '../../../protocol/text/index.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';
import {
  arbTransferParams,
  cutInto,
  fixedSequence,
  nopIn,
  nopOut,
  pattern,
  PduInbox,
  scsiCommand,
  scsiResponse,
} from './support.js';

/** Two connected ends and a way to close both. */
export interface ConnectedPair {
  readonly initiator: DatamoverConnection;
  readonly target: DatamoverConnection;
  close(): Promise<void>;
}

/** How the contract gets a fresh pair; `tweak` may add transport-specific params (e.g. digests). */
export interface PairFactory {
  readonly create: () => Promise<ConnectedPair>;
  readonly tweak?: (params: NegotiatedParams) => NegotiatedParams;
}

/** A pair with both ends subscribed and enabled. */
interface Harness {
  readonly pair: ConnectedPair;
  readonly initiator: DatamoverConnection;
  readonly target: DatamoverConnection;
  readonly fromTarget: PduInbox;
  readonly fromInitiator: PduInbox;
  readonly params: NegotiatedParams;
}

async function withPair<T>(
  factory: PairFactory,
  params: NegotiatedParams | undefined,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  const pair = await factory.create();
  const fromTarget = new PduInbox(pair.initiator.pdus);
  const fromInitiator = new PduInbox(pair.target.pdus);
  const effective = params === undefined ? defaultNegotiatedParams() : (factory.tweak?.(params) ?? params);
  if (params !== undefined) {
    pair.initiator.enable(effective, fixedSequence);
    pair.target.enable(effective, fixedSequence);
  }
  try {
    return await body({
      pair,
      initiator: pair.initiator,
      target: pair.target,
      fromTarget,
      fromInitiator,
      params: effective,
    });
  } finally {
    fromTarget.dispose();
    fromInitiator.dispose();
    await pair.close();
  }
}

function taskRef(command: ScsiCommandPdu): TargetTaskRef {
  return { itt: command.itt, lun: command.lun, expectedDataTransferLength: command.expectedDataTransferLength };
}

/** Expects `promise` to reject with an IserError of `code`. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isIserError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
}

/** Expects `fn` to throw an IserError of `code`. */
export function expectThrowCode(fn: () => unknown, code: string): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(isIserError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
}

/** Runs a read of `data.length` bytes, handed to putData in `pieces`, and checks it lands byte-exact. */
async function runRead(
  h: Harness,
  itt: number,
  data: Buffer,
  pieces: readonly number[],
  chunkCuts: readonly number[],
): Promise<void> {
  // The read buffer sits between guard bytes: nothing may be written outside it.
  const arena = Buffer.alloc(data.length + 64, 0xa5);
  const readBuffer = arena.subarray(32, 32 + data.length);
  readBuffer.fill(0);
  h.initiator.sendCommand(scsiCommand(itt, data.length, { read: true }), {
    readBuffer,
    immediateLength: 0,
    unsolicitedDataOutLength: 0,
  });
  const command = await h.fromInitiator.nextOf('scsi-command');
  expect(command.itt).toBe(itt);
  const ref = taskRef(command);
  let at = 0;
  for (const end of [...new Set(pieces.map((p) => Math.min(p, data.length)))]
    .sort((a, b) => a - b)
    .concat(data.length)) {
    if (end <= at) continue;
    const piece = data.subarray(at, end);
    await h.target.putData(ref, at, cutInto(piece, chunkCuts));
    at = end;
  }
  h.target.sendControl(scsiResponse(itt));
  const response = await h.fromTarget.nextOf('scsi-response');
  expect(response.itt).toBe(itt);
  expect(readBuffer.equals(data)).toBe(true);
  expect(arena.subarray(0, 32).every((b) => b === 0xa5)).toBe(true);
  expect(arena.subarray(32 + data.length).every((b) => b === 0xa5)).toBe(true);
  h.initiator.taskDone(itt);
  h.target.taskDone(itt);
}

/** Runs a write of `data`, fetched by getData in the ranges `pieces` cuts, and checks it arrives byte-exact. */
async function runWrite(
  h: Harness,
  itt: number,
  data: Buffer,
  pieces: readonly number[],
  chunkCuts: readonly number[],
): Promise<void> {
  const lengths = unsolicitedLengths(h.params, data.length);
  h.initiator.sendCommand(scsiCommand(itt, data.length, { write: true }), {
    writeData: cutInto(data, chunkCuts),
    ...lengths,
  });
  const command = await h.fromInitiator.nextOf('scsi-command');
  expect(command.final).toBe(lengths.unsolicitedDataOutLength === 0);
  expect(Buffer.concat(command.data).equals(data.subarray(0, lengths.immediateLength))).toBe(true);
  const ref = taskRef(command);
  const ends = [...new Set(pieces.map((p) => Math.min(p, data.length)))].sort((a, b) => a - b).concat(data.length);
  const ranges: [number, number][] = [];
  let at = 0;
  for (const end of ends) {
    if (end > at) ranges.push([at, end - at]);
    at = Math.max(at, end);
  }
  // All requests at once, in offset order: R2Ts overlap up to MaxOutstandingR2T per task.
  const fetched = await Promise.all(ranges.map(([offset, length]) => h.target.getData(ref, offset, length)));
  fetched.forEach((chunks, i) => {
    const [offset, length] = ranges[i] ?? [0, 0];
    expect(totalLength(chunks)).toBe(length);
    expect(Buffer.concat(chunks).equals(data.subarray(offset, offset + length))).toBe(true);
  });
  h.target.sendControl(scsiResponse(itt));
  await h.fromTarget.nextOf('scsi-response');
  h.initiator.taskDone(itt);
  h.target.taskDone(itt);
}

const arbCuts = (max: number): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 0, max }), { maxLength: 6 });

/** Declares the contract tests for one implementation. */
export function describeDatamoverContract(name: string, factory: PairFactory): void {
  describe(`Datamover contract: ${name}`, () => {
    it('carries control PDUs in order, both ways, with their data', async () => {
      await withPair(factory, undefined, async (h) => {
        for (let i = 0; i < 40; i++) {
          h.initiator.sendControl(nopOut(i, i % 3 === 0 ? [] : [pattern(i * 37, i), pattern(5, i + 1)]));
          h.target.sendControl(nopIn(1000 + i, i % 4 === 0 ? [] : [pattern(i * 11, i)]));
        }
        for (let i = 0; i < 40; i++) {
          const out = await h.fromInitiator.nextOf('nop-out');
          expect(out.itt).toBe(i);
          expect(Buffer.concat(out.data)).toEqual(
            i % 3 === 0 ? Buffer.alloc(0) : Buffer.concat([pattern(i * 37, i), pattern(5, i + 1)]),
          );
          const back = await h.fromTarget.nextOf('nop-in');
          expect(back.itt).toBe(1000 + i);
          expect(Buffer.concat(back.data)).toEqual(i % 4 === 0 ? Buffer.alloc(0) : pattern(i * 11, i));
        }
      });
    });

    it('holds PDUs that arrive before anyone subscribes', async () => {
      const pair = await factory.create();
      try {
        pair.initiator.sendControl(nopOut(1));
        pair.initiator.sendControl(nopOut(2));
        await new Promise((resolve) => setTimeout(resolve, 30));
        const inbox = new PduInbox(pair.target.pdus);
        expect((await inbox.nextOf('nop-out')).itt).toBe(1);
        expect((await inbox.nextOf('nop-out')).itt).toBe(2);
        inbox.dispose();
      } finally {
        await pair.close();
      }
    });

    it('a read lands byte-exact in readBuffer, in every parameter combination', async () => {
      await fc.assert(
        fc.asyncProperty(
          arbTransferParams,
          fc.integer({ min: 0, max: 150_000 }),
          arbCuts(150_000),
          arbCuts(150_000),
          fc.nat(1000),
          async (params, length, pieces, cuts, seed) => {
            await withPair(factory, params, (h) => runRead(h, 0x10 + seed, pattern(length, seed), pieces, cuts));
          },
        ),
        { numRuns: 25 },
      );
    });

    it('a write (immediate, unsolicited and R2T-solicited data) reaches getData byte-exact, in every parameter combination', async () => {
      await fc.assert(
        fc.asyncProperty(
          arbTransferParams,
          fc.integer({ min: 1, max: 150_000 }),
          arbCuts(150_000),
          arbCuts(150_000),
          fc.nat(1000),
          async (params, length, pieces, cuts, seed) => {
            await withPair(factory, params, (h) => runWrite(h, 0x20 + seed, pattern(length, seed), pieces, cuts));
          },
        ),
        { numRuns: 25 },
      );
    });

    it('tiny limits (512) force many PDUs, and many tasks run at once', async () => {
      const params = defaultNegotiatedParams({
        maxRecvDataSegmentLength: { initiator: 512, target: 512 },
        maxBurstLength: 1024,
        firstBurstLength: 512,
        initialR2T: false,
        maxOutstandingR2T: 2,
      });
      await withPair(factory, params, async (h) => {
        const reads = Array.from({ length: 6 }, (_, i) => pattern(5000 + i * 999, i));
        const writes = Array.from({ length: 6 }, (_, i) => pattern(7000 + i * 777, 100 + i));
        const readBuffers = reads.map((r) => Buffer.alloc(r.length));
        reads.forEach((r, i) => {
          h.initiator.sendCommand(scsiCommand(100 + i, r.length, { read: true }), {
            readBuffer: readBuffers[i],
            immediateLength: 0,
            unsolicitedDataOutLength: 0,
          });
        });
        writes.forEach((w, i) => {
          h.initiator.sendCommand(scsiCommand(200 + i, w.length, { write: true }), {
            writeData: [w],
            ...unsolicitedLengths(h.params, w.length),
          });
        });
        const commands: ScsiCommandPdu[] = [];
        for (let i = 0; i < 12; i++) commands.push(await h.fromInitiator.nextOf('scsi-command'));
        await Promise.all(
          commands.map(async (command) => {
            const ref = taskRef(command);
            if (command.read) {
              const data = reads[command.itt - 100] ?? Buffer.alloc(0);
              await h.target.putData(ref, 0, [data]);
            } else {
              const got = await h.target.getData(ref, 0, command.expectedDataTransferLength);
              expect(Buffer.concat(got).equals(writes[command.itt - 200] ?? Buffer.alloc(0))).toBe(true);
            }
            h.target.sendControl(scsiResponse(command.itt));
          }),
        );
        for (let i = 0; i < 12; i++) {
          const response = await h.fromTarget.nextOf('scsi-response');
          h.initiator.taskDone(response.itt);
          h.target.taskDone(response.itt);
        }
        readBuffers.forEach((b, i) => {
          expect(b.equals(reads[i] ?? Buffer.alloc(0))).toBe(true);
        });
      });
    });

    it('a bidirectional command: getData then putData on one task', async () => {
      await withPair(factory, defaultNegotiatedParams({ immediateData: false }), async (h) => {
        const out = pattern(20_000, 1);
        const back = pattern(30_000, 2);
        const readBuffer = Buffer.alloc(back.length);
        h.initiator.sendCommand(
          { ...scsiCommand(7, out.length, { read: true, write: true }), bidirectionalReadLength: back.length },
          { readBuffer, writeData: [out], immediateLength: 0, unsolicitedDataOutLength: 0 },
        );
        const ref = taskRef(await h.fromInitiator.nextOf('scsi-command'));
        expect(Buffer.concat(await h.target.getData(ref, 0, out.length)).equals(out)).toBe(true);
        await h.target.putData(ref, 0, [back]);
        h.target.sendControl(scsiResponse(7));
        await h.fromTarget.nextOf('scsi-response');
        expect(readBuffer.equals(back)).toBe(true);
      });
    });

    it('taskDone fails a pending getData with ERR_TCP_TASK_DONE; the connection goes on', async () => {
      await withPair(factory, defaultNegotiatedParams({ immediateData: false }), async (h) => {
        const data = pattern(100_000, 3);
        h.initiator.sendCommand(scsiCommand(9, data.length, { write: true }), {
          writeData: [data],
          immediateLength: 0,
          unsolicitedDataOutLength: 0,
        });
        const ref = taskRef(await h.fromInitiator.nextOf('scsi-command'));
        const pending = h.target.getData(ref, 0, data.length);
        h.target.taskDone(9);
        await expectCode(pending, 'ERR_TCP_TASK_DONE');
        // Data-Out still in flight for the finished task is dropped, not taken for an attack.
        h.initiator.sendControl(nopOut(10));
        expect((await h.fromInitiator.nextOf('nop-out')).itt).toBe(10);
        h.target.sendControl(nopIn(11));
        expect((await h.fromTarget.nextOf('nop-in')).itt).toBe(11);
      });
    });

    it('close completes both streams, fails pending calls with ERR_TCP_CLOSED and refuses new ones', async () => {
      await withPair(factory, defaultNegotiatedParams({ immediateData: false }), async (h) => {
        h.initiator.sendCommand(scsiCommand(12, 4096, { write: true }), {
          writeData: [pattern(4096, 4)],
          immediateLength: 0,
          unsolicitedDataOutLength: 0,
        });
        const ref = taskRef(await h.fromInitiator.nextOf('scsi-command'));
        const pending = h.target.getData(ref, 0, 4096);
        const closing = h.target.close();
        await expectCode(pending, 'ERR_TCP_CLOSED');
        expect(await h.fromInitiator.ended()).toEqual({ kind: 'complete' });
        expect(await h.fromTarget.ended()).toEqual({ kind: 'complete' });
        await closing;
        expectThrowCode(() => {
          h.target.sendControl(nopIn(1));
        }, 'ERR_TCP_CLOSED');
        expectThrowCode(() => {
          h.initiator.sendControl(nopOut(1));
        }, 'ERR_TCP_CLOSED');
        await expectCode(h.target.getData(ref, 0, 1), 'ERR_TCP_CLOSED');
      });
    });

    it('refuses misuse with typed errors', async () => {
      await withPair(factory, undefined, async (h) => {
        const read = scsiCommand(1, 10, { read: true });
        const buffers = { readBuffer: Buffer.alloc(10), immediateLength: 0, unsolicitedDataOutLength: 0 };
        const ref = taskRef(read);
        expectThrowCode(() => {
          h.initiator.sendCommand(read, buffers);
        }, 'ERR_TCP_NOT_ENABLED');
        expectThrowCode(() => {
          h.target.sendCommand(read, buffers);
        }, 'ERR_TCP_ROLE');
        await expectCode(h.initiator.putData(ref, 0, []), 'ERR_TCP_ROLE');
        await expectCode(h.initiator.getData(ref, 0, 1), 'ERR_TCP_ROLE');
        await expectCode(h.target.putData(ref, 0, [Buffer.alloc(1)]), 'ERR_TCP_NOT_ENABLED');
        expectThrowCode(() => {
          h.initiator.sendControl(read);
        }, 'ERR_TCP_USAGE');
        expectThrowCode(() => {
          h.target.sendControl({
            kind: 'r2t',
            lun: 0n,
            itt: 1,
            ttt: 1,
            statSN: 0,
            expCmdSN: 0,
            maxCmdSN: 0,
            r2tSN: 0,
            bufferOffset: 0,
            desiredDataTransferLength: 1,
          });
        }, 'ERR_TCP_USAGE');
        const params = defaultNegotiatedParams();
        h.initiator.enable(params, fixedSequence);
        h.target.enable(params, fixedSequence);
        expectThrowCode(() => {
          h.initiator.enable(params, fixedSequence);
        }, 'ERR_TCP_USAGE');
        await expectCode(h.target.getData(ref, 0, 1), 'ERR_TCP_USAGE');
        const write = scsiCommand(2, 100, { write: true });
        expectThrowCode(() => {
          h.initiator.sendCommand(write, {
            writeData: [Buffer.alloc(100)],
            immediateLength: 0,
            unsolicitedDataOutLength: 50,
          });
        }, 'ERR_TCP_USAGE');
        expectThrowCode(() => {
          h.initiator.sendCommand(write, {
            writeData: [Buffer.alloc(99)],
            immediateLength: 0,
            unsolicitedDataOutLength: 0,
          });
        }, 'ERR_TCP_USAGE');
        h.initiator.sendCommand(write, {
          writeData: [Buffer.alloc(100)],
          immediateLength: 100,
          unsolicitedDataOutLength: 0,
        });
        expectThrowCode(() => {
          h.initiator.sendCommand(write, {
            writeData: [Buffer.alloc(100)],
            immediateLength: 100,
            unsolicitedDataOutLength: 0,
          });
        }, 'ERR_TCP_USAGE');
        const writeRef = taskRef(await h.fromInitiator.nextOf('scsi-command'));
        await expectCode(h.target.getData(writeRef, 50, 51), 'ERR_TCP_USAGE');
        await expectCode(h.target.getData(writeRef, -1, 1), 'ERR_TCP_USAGE');
        expect(Buffer.concat(await h.target.getData(writeRef, 10, 90))).toEqual(Buffer.alloc(90));
      });
    });
  });
}
