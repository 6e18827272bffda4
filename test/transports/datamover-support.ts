/** Helpers for the Datamover tests of every transport: a bounded PDU inbox, PDU builders, sequence sources and parameter arbitraries. */
import fc from 'fast-check';
import type { Observable, Subscription } from 'rxjs';
import type { SequenceSource } from '../../protocol/datamover.js';
import {
  LoginStage,
  RESERVED_TAG,
  type LoginRequestPdu,
  type LoginResponsePdu,
  type NopInPdu,
  type NopOutPdu,
  type Pdu,
  type PduKind,
  type PduOf,
  type ScsiCommandPdu,
  type ScsiResponsePdu,
  type TextRequestPdu,
  type TextResponsePdu,
} from '../../protocol/pdu/index.js';
import type { NegotiatedParams } from '../../protocol/text/index.js';
import { defaultNegotiatedParams } from '../support/datamover-pair.js';

/** Longest any test waits for one PDU or one ending. */
export const WAIT_MS = 5_000;

/** How a `pdus` stream ended. */
export type Ending = { readonly kind: 'complete' } | { readonly kind: 'error'; readonly error: unknown };

/** Collects a `pdus` stream so a test can await the next PDU (bounded) or the end. */
export class PduInbox {
  private readonly queue: Pdu[] = [];
  private readonly waiters: (() => void)[] = [];
  private ending: Ending | undefined;
  private readonly subscription: Subscription;

  constructor(pdus: Observable<Pdu>) {
    this.subscription = pdus.subscribe({
      next: (pdu) => {
        this.queue.push(pdu);
        this.wake();
      },
      error: (error: unknown) => {
        this.ending = { kind: 'error', error };
        this.wake();
      },
      complete: () => {
        this.ending = { kind: 'complete' };
        this.wake();
      },
    });
  }

  /** PDUs received and not yet taken. */
  get pending(): readonly Pdu[] {
    return this.queue;
  }

  /** The next PDU; rejects if the stream ends first or nothing comes within WAIT_MS. */
  async next(): Promise<Pdu> {
    await this.until(() => this.queue.length > 0 || this.ending !== undefined, 'a PDU');
    const pdu = this.queue.shift();
    if (pdu === undefined) throw new Error(`stream ended instead: ${describeEnding(this.ending)}`);
    return pdu;
  }

  /** The next PDU, which must be of `kind`. */
  async nextOf<K extends PduKind>(kind: K): Promise<PduOf<K>> {
    const pdu = await this.next();
    if (pdu.kind !== kind) throw new Error(`expected ${kind}, got ${pdu.kind}`);
    return pdu as PduOf<K>;
  }

  /** How the stream ended (bounded wait). */
  async ended(): Promise<Ending> {
    await this.until(() => this.ending !== undefined, 'the end of the stream');
    return this.ending ?? { kind: 'complete' };
  }

  /** Stops listening. */
  dispose(): void {
    this.subscription.unsubscribe();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

function describeEnding(ending: Ending | undefined): string {
  if (ending === undefined) return 'not ended';
  return ending.kind === 'complete' ? 'completed' : `error ${String(ending.error)}`;
}

/** A sequence source with fixed, recognisable numbers. */
export const fixedSequence: SequenceSource = {
  expStatSN: () => 0x1111,
  statSN: () => 0x2222,
  expCmdSN: () => 0x3333,
  maxCmdSN: () => 0x4444,
};

/** A NOP-Out carrying `data`. */
export function nopOut(itt: number, data: readonly Buffer[] = []): NopOutPdu {
  return { kind: 'nop-out', immediate: true, lun: 0n, itt, ttt: 0xffffffff, cmdSN: 1, expStatSN: 2, data };
}

/** A NOP-In carrying `data`. */
export function nopIn(itt: number, data: readonly Buffer[] = []): NopInPdu {
  return { kind: 'nop-in', lun: 0n, itt, ttt: 0xffffffff, statSN: 3, expCmdSN: 4, maxCmdSN: 5, data };
}

const ISID = { type: 0, a: 0, b: 0x1234, c: 0x56, d: 0x789a };

/** A Login Request in the operational stage; `final` asks for full feature phase. */
export function loginRequest(itt: number, keys: string, final: boolean): LoginRequestPdu {
  return {
    kind: 'login-request',
    transit: final,
    continue: false,
    currentStage: LoginStage.LoginOperationalNegotiation,
    nextStage: final ? LoginStage.FullFeaturePhase : LoginStage.LoginOperationalNegotiation,
    versionMax: 0,
    versionMin: 0,
    isid: ISID,
    tsih: 0,
    itt,
    cid: 0,
    cmdSN: 1,
    expStatSN: 0,
    data: keys === '' ? [] : [Buffer.from(keys, 'latin1')],
  };
}

/** A successful Login Response; `final` ends the login phase. */
export function loginResponse(itt: number, keys: string, final: boolean): LoginResponsePdu {
  return {
    kind: 'login-response',
    transit: final,
    continue: false,
    currentStage: LoginStage.LoginOperationalNegotiation,
    nextStage: final ? LoginStage.FullFeaturePhase : LoginStage.LoginOperationalNegotiation,
    versionMax: 0,
    versionActive: 0,
    isid: ISID,
    tsih: 1,
    itt,
    statSN: 0,
    expCmdSN: 1,
    maxCmdSN: 64,
    statusClass: 0,
    statusDetail: 0,
    data: keys === '' ? [] : [Buffer.from(keys, 'latin1')],
  };
}

/** A Text Request carrying `text`. */
export function textRequest(itt: number, text: string): TextRequestPdu {
  return {
    kind: 'text-request',
    immediate: false,
    final: true,
    continue: false,
    lun: 0n,
    itt,
    ttt: RESERVED_TAG,
    cmdSN: 1,
    expStatSN: 1,
    data: [Buffer.from(text, 'latin1')],
  };
}

/** A Text Response carrying `text`. */
export function textResponse(itt: number, text: string): TextResponsePdu {
  return {
    kind: 'text-response',
    final: true,
    continue: false,
    lun: 0n,
    itt,
    ttt: RESERVED_TAG,
    statSN: 1,
    expCmdSN: 1,
    maxCmdSN: 64,
    data: [Buffer.from(text, 'latin1')],
  };
}

/** A SCSI Command reading and/or writing `edtl` bytes. */
export function scsiCommand(
  itt: number,
  edtl: number,
  direction: { readonly read?: boolean; readonly write?: boolean },
): ScsiCommandPdu {
  return {
    kind: 'scsi-command',
    immediate: false,
    final: true,
    read: direction.read ?? false,
    write: direction.write ?? false,
    attribute: 1,
    lun: 5n << 48n,
    itt,
    expectedDataTransferLength: edtl,
    cmdSN: itt,
    expStatSN: 0,
    cdb: Buffer.alloc(16, 0x28),
    data: [],
  };
}

/** A GOOD SCSI Response. */
export function scsiResponse(itt: number, expDataSN = 0): ScsiResponsePdu {
  return {
    kind: 'scsi-response',
    bidirectionalReadResidualOverflow: false,
    bidirectionalReadResidualUnderflow: false,
    residualOverflow: false,
    residualUnderflow: false,
    response: 0,
    status: 0,
    itt,
    snackTag: 0,
    statSN: 7,
    expCmdSN: 8,
    maxCmdSN: 9,
    expDataSN,
    bidirectionalReadResidualCount: 0,
    residualCount: 0,
    data: [],
  };
}

/** Deterministic bytes that differ at every offset of a transfer (a misplaced PDU shows). */
export function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Cuts `data` into chunks at the given (sorted, deduplicated) cut points: how a core might hand data over. */
export function cutInto(data: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, data.length]) {
    if (p > at) out.push(data.subarray(at, p));
    at = Math.max(at, p);
  }
  return out;
}

/** Legal negotiated values that shape data transfer, including tiny ones that force many PDUs. */
export const arbTransferParams: fc.Arbitrary<NegotiatedParams> = fc
  .record({
    immediateData: fc.boolean(),
    initialR2T: fc.boolean(),
    initiatorMrdsl: fc.oneof(fc.constant(512), fc.integer({ min: 512, max: 65536 })),
    targetMrdsl: fc.oneof(fc.constant(512), fc.integer({ min: 512, max: 65536 })),
    maxBurstLength: fc.oneof(fc.constant(512), fc.integer({ min: 512, max: 262144 })),
    burstFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    maxOutstandingR2T: fc.integer({ min: 1, max: 8 }),
  })
  .map((r) =>
    defaultNegotiatedParams({
      immediateData: r.immediateData,
      initialR2T: r.initialR2T,
      maxRecvDataSegmentLength: { initiator: r.initiatorMrdsl, target: r.targetMrdsl },
      maxBurstLength: r.maxBurstLength,
      firstBurstLength: Math.max(512, Math.floor(r.maxBurstLength * r.burstFraction)),
      maxOutstandingR2T: r.maxOutstandingR2T,
    }),
  );
