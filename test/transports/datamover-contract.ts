/**
 * Role-level tests of a DatamoverConnection pair, written once and run on every implementation: iSCSI/TCP on
 * loopback (real time), the in-memory pair, and iSER on the in-memory fabric and on soft-RoCE (virtual time). Both
 * roles are driven directly by the test: no session layer.
 *
 * Time: every wait on the transport goes through {@link ConnectedPair.run}, which a virtual-time pair implements by
 * driving its clock until the promise settles (a real-time pair just awaits). Errors: each transport has its own
 * code prefix (ERR_TCP_, ERR_ISER_); the contract names the common suffix.
 *
 * Transfer tests log in first (one Login Request/Response ending the login phase, then enable on both ends), as the
 * core does: iSER posts its full-feature receives only then.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DatamoverConnection, TargetTaskRef } from '../../protocol/datamover.js';
import { isIserError } from '../../protocol/errors.js';
import type { ScsiCommandPdu } from '../../protocol/pdu/index.js';
import { unsolicitedLengths } from '../../protocol/session/data-sequencing.js';
import { totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import type { NegotiatedParams } from '../../protocol/text/index.js';
import { defaultNegotiatedParams } from '../support/datamover-pair.js';
import {
  arbTransferParams,
  cutInto,
  fixedSequence,
  loginRequest,
  loginResponse,
  nopIn,
  nopOut,
  pattern,
  PduInbox,
  scsiCommand,
  scsiResponse,
  textRequest,
  textResponse,
} from './datamover-support.js';

/** Two connected ends (both in the login phase), a way to drive time, and a way to close both. */
export interface ConnectedPair {
  readonly initiator: DatamoverConnection;
  readonly target: DatamoverConnection;
  close(): Promise<void>;
  /** Drives time until `work` settles and returns its outcome (default: just await it). */
  run?<T>(work: Promise<T>): Promise<T>;
  /** Lets everything in flight arrive (default: 30 ms of real time). */
  settle?(): Promise<void>;
}

/** How the contract gets a fresh pair, and what is particular about the transport. */
export interface PairFactory {
  readonly create: () => Promise<ConnectedPair>;
  /** Transport-specific params (TCP: digests; iSER: RDMAExtensions=Yes and the RDSL keys). */
  readonly tweak?: (params: NegotiatedParams) => NegotiatedParams;
  /** The transport's error code prefix. Default `ERR_TCP_`. */
  readonly codePrefix?: string;
  /** Runs of each property test. Default 25. */
  readonly numRuns?: number;
}

/** A pair with both ends subscribed (and, when params were given, logged in and enabled). */
interface Harness {
  readonly pair: ConnectedPair;
  readonly initiator: DatamoverConnection;
  readonly target: DatamoverConnection;
  readonly fromTarget: PduInbox;
  readonly fromInitiator: PduInbox;
  readonly params: NegotiatedParams;
  /** Drives time until `work` settles. */
  run<T>(work: Promise<T>): Promise<T>;
  /** This transport's code for a suffix (`ERR_TCP_CLOSED`, `ERR_ISER_CLOSED`…). */
  code(suffix: string): string;
}

function harnessOf(factory: PairFactory, pair: ConnectedPair, params: NegotiatedParams): Harness {
  const prefix = factory.codePrefix ?? 'ERR_TCP_';
  return {
    pair,
    initiator: pair.initiator,
    target: pair.target,
    fromTarget: new PduInbox(pair.initiator.pdus),
    fromInitiator: new PduInbox(pair.target.pdus),
    params,
    run: <T>(work: Promise<T>): Promise<T> => (pair.run === undefined ? work : pair.run(work)),
    code: (suffix) => prefix + suffix,
  };
}

/** One Login Request/Response pair ending the login phase, then enable (the target right after its response). */
async function logIn(h: Harness): Promise<void> {
  h.initiator.sendControl(loginRequest(0x4000, 'InitiatorName=iqn.2024-01.test:i\0', true));
  const request = await h.run(h.fromInitiator.nextOf('login-request'));
  h.target.sendControl(loginResponse(request.itt, 'TargetPortalGroupTag=1\0', true));
  h.target.enable(h.params, fixedSequence);
  await h.run(h.fromTarget.nextOf('login-response'));
  h.initiator.enable(h.params, fixedSequence);
}

async function withPair<T>(
  factory: PairFactory,
  params: NegotiatedParams | undefined,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  const pair = await factory.create();
  const effective = params ?? defaultNegotiatedParams();
  const h = harnessOf(factory, pair, factory.tweak?.(effective) ?? effective);
  try {
    if (params !== undefined) await logIn(h);
    return await body(h);
  } finally {
    h.fromTarget.dispose();
    h.fromInitiator.dispose();
    await h.run(pair.close());
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
  const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
  expect(command.itt).toBe(itt);
  const ref = taskRef(command);
  let at = 0;
  for (const end of [...new Set(pieces.map((p) => Math.min(p, data.length)))]
    .sort((a, b) => a - b)
    .concat(data.length)) {
    if (end <= at) continue;
    const piece = data.subarray(at, end);
    await h.run(h.target.putData(ref, at, cutInto(piece, chunkCuts)));
    at = end;
  }
  h.target.sendControl(scsiResponse(itt));
  const response = await h.run(h.fromTarget.nextOf('scsi-response'));
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
  const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
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
  const fetched = await h.run(Promise.all(ranges.map(([offset, length]) => h.target.getData(ref, offset, length))));
  fetched.forEach((chunks, i) => {
    const [offset, length] = ranges[i] ?? [0, 0];
    expect(totalLength(chunks)).toBe(length);
    expect(Buffer.concat(chunks).equals(data.subarray(offset, offset + length))).toBe(true);
  });
  h.target.sendControl(scsiResponse(itt));
  await h.run(h.fromTarget.nextOf('scsi-response'));
  h.initiator.taskDone(itt);
  h.target.taskDone(itt);
}

const arbCuts = (max: number): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 0, max }), { maxLength: 6 });

/** Declares the contract tests for one implementation. */
export function describeDatamoverContract(name: string, factory: PairFactory): void {
  const numRuns = factory.numRuns ?? 25;
  describe(`Datamover contract: ${name}`, () => {
    it('carries a login exchange that continues, then ends the login phase', async () => {
      await withPair(factory, undefined, async (h) => {
        h.initiator.sendControl(loginRequest(7, 'AuthMethod=None\0', false));
        await h.run(h.fromInitiator.nextOf('login-request'));
        h.target.sendControl(loginResponse(7, 'AuthMethod=None\0', false));
        await h.run(h.fromTarget.nextOf('login-response'));
        h.initiator.sendControl(loginRequest(7, 'HeaderDigest=None\0', true));
        const last = await h.run(h.fromInitiator.nextOf('login-request'));
        expect(Buffer.concat(last.data).toString('latin1')).toBe('HeaderDigest=None\0');
        h.target.sendControl(loginResponse(7, '', true));
        h.target.enable(h.params, fixedSequence);
        expect((await h.run(h.fromTarget.nextOf('login-response'))).transit).toBe(true);
        h.initiator.enable(h.params, fixedSequence);
        h.initiator.sendControl(textRequest(8, 'SendTargets=All\0'));
        expect(Buffer.concat((await h.run(h.fromInitiator.nextOf('text-request'))).data).toString('latin1')).toBe(
          'SendTargets=All\0',
        );
        h.target.sendControl(textResponse(8, 'TargetName=iqn.2024-01.test:t\0'));
        expect((await h.run(h.fromTarget.nextOf('text-response'))).itt).toBe(8);
      });
    });

    it('carries control PDUs in order, both ways, with their data', async () => {
      await withPair(factory, defaultNegotiatedParams(), async (h) => {
        for (let i = 0; i < 40; i++) {
          h.initiator.sendControl(nopOut(i, i % 3 === 0 ? [] : [pattern(i * 37, i), pattern(5, i + 1)]));
          // Each NOP-In answers the NOP-Out with its ITT, as a target does (iSER counts unanswered pings).
          h.target.sendControl(nopIn(i, i % 4 === 0 ? [] : [pattern(i * 11, i)]));
        }
        for (let i = 0; i < 40; i++) {
          const out = await h.run(h.fromInitiator.nextOf('nop-out'));
          expect(out.itt).toBe(i);
          expect(Buffer.concat(out.data)).toEqual(
            i % 3 === 0 ? Buffer.alloc(0) : Buffer.concat([pattern(i * 37, i), pattern(5, i + 1)]),
          );
          const back = await h.run(h.fromTarget.nextOf('nop-in'));
          expect(back.itt).toBe(i);
          expect(Buffer.concat(back.data)).toEqual(i % 4 === 0 ? Buffer.alloc(0) : pattern(i * 11, i));
        }
      });
    });

    it('holds a PDU that arrives before anyone subscribes', async () => {
      const pair = await factory.create();
      const run = <T>(work: Promise<T>): Promise<T> => (pair.run === undefined ? work : pair.run(work));
      try {
        pair.initiator.sendControl(loginRequest(1, 'InitiatorName=iqn.2024-01.test:i\0', false));
        // Let it arrive with nobody listening.
        await (pair.settle?.() ?? new Promise((resolve) => setTimeout(resolve, 30)));
        const inbox = new PduInbox(pair.target.pdus);
        expect((await run(inbox.nextOf('login-request'))).itt).toBe(1);
        inbox.dispose();
      } finally {
        await run(pair.close());
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
        { numRuns },
      );
    });

    it('a write (immediate, unsolicited and solicited data) reaches getData byte-exact, in every parameter combination', async () => {
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
        { numRuns },
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
        for (let i = 0; i < 12; i++) commands.push(await h.run(h.fromInitiator.nextOf('scsi-command')));
        await h.run(
          Promise.all(
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
          ),
        );
        for (let i = 0; i < 12; i++) {
          const response = await h.run(h.fromTarget.nextOf('scsi-response'));
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
        const ref = taskRef(await h.run(h.fromInitiator.nextOf('scsi-command')));
        expect(Buffer.concat(await h.run(h.target.getData(ref, 0, out.length))).equals(out)).toBe(true);
        await h.run(h.target.putData(ref, 0, [back]));
        h.target.sendControl(scsiResponse(7));
        await h.run(h.fromTarget.nextOf('scsi-response'));
        expect(readBuffer.equals(back)).toBe(true);
      });
    });

    it('taskDone fails a pending getData with …_TASK_DONE; the connection goes on', async () => {
      await withPair(factory, defaultNegotiatedParams({ immediateData: false }), async (h) => {
        const data = pattern(100_000, 3);
        h.initiator.sendCommand(scsiCommand(9, data.length, { write: true }), {
          writeData: [data],
          immediateLength: 0,
          unsolicitedDataOutLength: 0,
        });
        const ref = taskRef(await h.run(h.fromInitiator.nextOf('scsi-command')));
        const pending = h.target.getData(ref, 0, data.length);
        h.target.taskDone(9);
        await h.run(expectCode(pending, h.code('TASK_DONE')));
        // Data still in flight for the finished task is dropped, not taken for an attack.
        h.initiator.sendControl(nopOut(10));
        expect((await h.run(h.fromInitiator.nextOf('nop-out'))).itt).toBe(10);
        h.target.sendControl(nopIn(11));
        expect((await h.run(h.fromTarget.nextOf('nop-in'))).itt).toBe(11);
      });
    });

    it('close completes both streams, fails pending calls with …_CLOSED and refuses new ones', async () => {
      await withPair(factory, defaultNegotiatedParams({ immediateData: false }), async (h) => {
        h.initiator.sendCommand(scsiCommand(12, 4096, { write: true }), {
          writeData: [pattern(4096, 4)],
          immediateLength: 0,
          unsolicitedDataOutLength: 0,
        });
        const ref = taskRef(await h.run(h.fromInitiator.nextOf('scsi-command')));
        const pending = h.target.getData(ref, 0, 4096);
        const closing = h.target.close();
        await h.run(expectCode(pending, h.code('CLOSED')));
        expect(await h.run(h.fromInitiator.ended())).toEqual({ kind: 'complete' });
        expect(await h.run(h.fromTarget.ended())).toEqual({ kind: 'complete' });
        await h.run(closing);
        expectThrowCode(() => {
          h.target.sendControl(nopIn(1));
        }, h.code('CLOSED'));
        expectThrowCode(() => {
          h.initiator.sendControl(nopOut(1));
        }, h.code('CLOSED'));
        await h.run(expectCode(h.target.getData(ref, 0, 1), h.code('CLOSED')));
      });
    });

    it('refuses misuse with typed errors', async () => {
      await withPair(factory, undefined, async (h) => {
        const read = scsiCommand(1, 10, { read: true });
        const buffers = { readBuffer: Buffer.alloc(10), immediateLength: 0, unsolicitedDataOutLength: 0 };
        const ref = taskRef(read);
        expectThrowCode(() => {
          h.initiator.sendCommand(read, buffers);
        }, h.code('NOT_ENABLED'));
        expectThrowCode(() => {
          h.target.sendCommand(read, buffers);
        }, h.code('ROLE'));
        await expectCode(h.initiator.putData(ref, 0, []), h.code('ROLE'));
        await expectCode(h.initiator.getData(ref, 0, 1), h.code('ROLE'));
        await expectCode(h.target.putData(ref, 0, [Buffer.alloc(1)]), h.code('NOT_ENABLED'));
        expectThrowCode(() => {
          h.initiator.sendControl(read);
        }, h.code('USAGE'));
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
        }, h.code('USAGE'));
        await logIn(h);
        expectThrowCode(() => {
          h.initiator.enable(h.params, fixedSequence);
        }, h.code('USAGE'));
        await expectCode(h.target.getData(ref, 0, 1), h.code('USAGE'));
        const write = scsiCommand(2, 100, { write: true });
        expectThrowCode(() => {
          h.initiator.sendCommand(write, {
            writeData: [Buffer.alloc(100)],
            immediateLength: 0,
            unsolicitedDataOutLength: 50,
          });
        }, h.code('USAGE'));
        expectThrowCode(() => {
          h.initiator.sendCommand(write, {
            writeData: [Buffer.alloc(99)],
            immediateLength: 0,
            unsolicitedDataOutLength: 0,
          });
        }, h.code('USAGE'));
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
        }, h.code('USAGE'));
        const writeRef = taskRef(await h.run(h.fromInitiator.nextOf('scsi-command')));
        await expectCode(h.target.getData(writeRef, 50, 51), h.code('USAGE'));
        await expectCode(h.target.getData(writeRef, -1, 1), h.code('USAGE'));
        expect(Buffer.concat(await h.run(h.target.getData(writeRef, 10, 90)))).toEqual(Buffer.alloc(90));
      });
    });
  });
}
