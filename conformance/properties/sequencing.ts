/**
 * Sequencing properties: a random workload runs under a recording tap, then a rule of RFC 7143 is checked over
 * the PDUs exchanged (core view on every transport; the wire view, with Data-In, R2T and Data-Out, over TCP). Two
 * properties drive PDUs by hand: a CmdSN outside the window, and EDTLs that disagree with the CDB.
 */
import fc from 'fast-check';
import { lastValueFrom } from 'rxjs';
import { read10, testUnitReady, write10 } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatusError } from '../../protocol/scsi/errors.js';
import { serialAdd, serialDiff } from '../../protocol/pdu/serial.js';
import { lunFromNumber } from '../../protocol/pdu/lun.js';
import type { ScsiResponsePdu } from '../../protocol/pdu/scsi-response.js';
import type { RunContext, SuiteContext } from '../context.js';
import { ConformanceViolation, expectThat } from '../errors.js';
import { defineProperty, type ConformanceProperty } from '../property.js';
import type { RecordedPdu } from '../record/exchange.js';
import {
  checkDataSequencing,
  checkInitiatorWindow,
  checkStatSN,
  checkTargetWindow,
  checkTaskTags,
  RFC,
  type Finding,
} from '../support/invariants.js';
import { RawSession } from '../support/raw-session.js';
import { arbWorkload, runWorkload, WORKLOAD_BLOCKS, workloadSize, type Workload } from '../support/workload.js';

/** A property that runs a workload and checks `rule` over the exchange. */
function workloadProperty(options: {
  readonly name: string;
  readonly rfc: string;
  readonly title: string;
  readonly view: 'core' | 'wire' | 'best';
  readonly skip?: (suite: SuiteContext) => string | undefined;
  readonly rule: (run: RunContext, pdus: readonly RecordedPdu[]) => Finding | undefined;
}): ConformanceProperty {
  return defineProperty<Workload>({
    group: 'sequencing',
    name: options.name,
    rfc: options.rfc,
    title: options.title,
    runs: 25,
    ...(options.skip === undefined ? {} : { skip: options.skip }),
    arbitrary: (suite) => arbWorkload(suite.region(WORKLOAD_BLOCKS).blocks),
    size: workloadSize,
    async check(run, workload) {
      let failure: Error | undefined;
      try {
        await runWorkload(run, workload, run.suite.region(WORKLOAD_BLOCKS));
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
      // The rule is checked over what happened even when an operation failed: the violation explains the failure.
      const wire = run.wire();
      const pdus = options.view === 'core' ? run.exchange.corePdus : options.view === 'wire' ? wire : run.exchange.pdus;
      const finding = options.rule(run, pdus);
      if (finding !== undefined) throw new ConformanceViolation(finding.rfc, finding.message);
      if (failure !== undefined) throw failure;
    },
  });
}

/** The initiator keeps to the window. */
export const initiatorWindow = workloadProperty({
  name: 'initiator-cmdsn-window',
  rfc: RFC.window,
  title: 'the initiator numbers commands CmdSN, CmdSN+1, … and never sends one beyond the MaxCmdSN it was given',
  view: 'core',
  rule: (_run, pdus) => checkInitiatorWindow(pdus),
});

/** The target never shrinks the window. */
export const targetWindow = workloadProperty({
  name: 'maxcmdsn-never-backwards',
  rfc: RFC.windowTarget,
  title: "the target's MaxCmdSN and ExpCmdSN never move backwards, and MaxCmdSN ≥ ExpCmdSN − 1",
  view: 'best',
  rule: (_run, pdus) => checkTargetWindow(pdus),
});

/** StatSN sequencing and acknowledgement. */
export const statSN = workloadProperty({
  name: 'statsn-acknowledged',
  rfc: RFC.statSN,
  title: 'each status on a connection carries StatSN + 1; ExpStatSN acknowledges only what came and never goes back',
  view: 'best',
  rule: (_run, pdus) => checkStatSN(pdus),
});

/** ITT uniqueness. */
export const taskTags = workloadProperty({
  name: 'itt-unique',
  rfc: RFC.itt,
  title: 'no new task takes the ITT of a live one, and the target answers only live tasks',
  view: 'core',
  rule: (_run, pdus) => checkTaskTags(pdus),
});

/** Data PDUs in order on the wire. */
export const dataSequencing = workloadProperty({
  name: 'datasn-r2tsn-order',
  rfc: `${RFC.dataSN}, ${RFC.r2tSN}`,
  title:
    'Data-In DataSN and offsets, R2TSN, and Data-Out DataSN run in order per task, within segment and burst limits',
  view: 'wire',
  skip: (suite) =>
    suite.target.transport !== 'tcp'
      ? 'iSER moves data with RDMA Write/Read, not Data-In, R2T and Data-Out PDUs (RFC 7145 §7.3)'
      : suite.proxy === undefined
        ? 'the TCP wire is not recorded (tapTcp is off)'
        : undefined,
  rule: (run, pdus) => checkDataSequencing(pdus, (c) => run.exchange.params(c)),
});

/** One command whose EDTL disagrees (or not) with what its CDB transfers. */
interface ResidualCase {
  readonly direction: 'read' | 'write';
  readonly lba: number;
  readonly blocks: number;
  /** EDTL as a difference from blocks × block size, in bytes (clamped at 0). */
  readonly delta: number;
}

/** Residuals (RFC 7143 §11.4.5): U/O and ResidualCount match EDTL vs the CDB's transfer length. */
export const residuals: ConformanceProperty = defineProperty<ResidualCase[]>({
  group: 'sequencing',
  name: 'residuals',
  rfc: 'RFC 7143 §11.4.5',
  title:
    'a GOOD response sets U (or O) with ResidualCount = |EDTL − transfer length| and moves min(EDTL, length) bytes',
  runs: 25,
  arbitrary: () =>
    fc.array(
      fc.record({
        direction: fc.constantFrom<'read' | 'write'>('read', 'write'),
        lba: fc.integer({ min: 0, max: 64 }),
        blocks: fc.integer({ min: 0, max: 8 }),
        delta: fc.oneof(fc.constant(0), fc.integer({ min: -4096, max: 4096 }), fc.constantFrom(-1, 1, -512, 512)),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  async check(run, cases) {
    const session = await run.login();
    await run.lun(session);
    const blockSize = run.facts.blockSize;
    const region = run.suite.region(80);
    const lun = lunFromNumber(run.target.lun);
    for (const c of cases) {
      const length = c.blocks * blockSize;
      const edtl = Math.max(0, length + c.delta);
      const lba = region.firstLba + Math.min(c.lba, Math.max(0, region.blocks - 8));
      const cdb = c.direction === 'read' ? read10({ lba, blocks: c.blocks }) : write10({ lba, blocks: c.blocks });
      const what = `${c.direction === 'read' ? 'READ(10)' : 'WRITE(10)'} of ${c.blocks} blocks with EDTL ${edtl}`;
      const before = run.exchange.corePdus.length;
      let data: Buffer | undefined;
      try {
        const result = await run.bounded(
          lastValueFrom(
            session.command(lun, cdb, c.direction === 'read' ? { read: edtl } : { write: Buffer.alloc(edtl, 0x3c) }),
          ),
          what,
        );
        data = result.data;
      } catch (err) {
        if (!(err instanceof ScsiStatusError)) throw err;
        if (edtl === length) throw err;
        // A target may refuse a command whose EDTL disagrees with its CDB: count it, it is no deviation.
        run.count(
          `${c.direction === 'read' ? 'READ' : 'WRITE'} with EDTL ≠ transfer length refused (${err.message.replace(/^.*ended with /, '')})`,
        );
        continue;
      }
      const response = run.exchange.corePdus
        .slice(before)
        .find(
          (p): p is RecordedPdu & { pdu: ScsiResponsePdu } => p.direction === 'in' && p.pdu.kind === 'scsi-response',
        );
      expectThat(response !== undefined, 'RFC 7143 §11.4', () => `${what}: no SCSI Response was recorded`);
      const r = response.pdu;
      const flags = `U=${r.residualUnderflow ? 1 : 0} O=${r.residualOverflow ? 1 : 0} ResidualCount=${r.residualCount}`;
      if (edtl > length) {
        expectThat(
          r.residualUnderflow && !r.residualOverflow && r.residualCount === edtl - length,
          'RFC 7143 §11.4.5.1',
          () => `${what}: expected U=1 O=0 ResidualCount=${edtl - length}, got ${flags}`,
        );
      } else if (edtl < length) {
        expectThat(
          r.residualOverflow && !r.residualUnderflow && r.residualCount === length - edtl,
          'RFC 7143 §11.4.5.1',
          () => `${what}: expected O=1 U=0 ResidualCount=${length - edtl}, got ${flags}`,
        );
      } else {
        expectThat(
          !r.residualOverflow && !r.residualUnderflow && r.residualCount === 0,
          'RFC 7143 §11.4.5',
          () => `${what}: expected no residual, got ${flags}`,
        );
      }
      const received = data.length;
      if (c.direction === 'read') {
        expectThat(
          received === Math.min(edtl, length),
          'RFC 7143 §11.4.5.1',
          () => `${what}: ${received} bytes of data-in arrived, expected ${Math.min(edtl, length)}`,
        );
      }
    }
  },
});

/** A non-immediate command outside [ExpCmdSN, MaxCmdSN]. */
interface OutOfWindow {
  readonly side: 'too-high' | 'too-low';
  readonly distance: number;
}

/** Out-of-window CmdSNs are silently ignored (RFC 7143 §4.2.2.1), as libiscsi's iSCSIcmdsn tests check. */
export const outOfWindow: ConformanceProperty = defineProperty<OutOfWindow>({
  group: 'sequencing',
  name: 'cmdsn-outside-window-ignored',
  rfc: 'RFC 7143 §4.2.2.1, §3.2.2.1',
  title:
    'a non-immediate command with CmdSN outside [ExpCmdSN, MaxCmdSN] is silently ignored, even once the window reaches its CmdSN',
  runs: 12,
  arbitrary: () =>
    fc.record({
      side: fc.constantFrom<'too-high' | 'too-low'>('too-high', 'too-low'),
      distance: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 1 << 20 })),
    }),
  async check(run, input) {
    const { raw, login } = await run.rawSession();
    const session = new RawSession(raw, login, run.target.lun);
    const bad =
      input.side === 'too-high'
        ? serialAdd(session.maxCmdSN, input.distance)
        : (session.expCmdSN - input.distance) >>> 0;
    const badItt = session.command(testUnitReady(), { cmdSN: bad });
    // In-window commands up to (and, when it is near, past) the ignored CmdSN: a target that queued the bad one
    // would run it when the window reaches it.
    const reach = input.side === 'too-high' && input.distance <= 3 ? serialDiff(bad, session.cmdSN) + 1 : 1;
    const answeredBad = (): string | undefined => {
      const answers = session.received(badItt);
      return answers.length === 0
        ? undefined
        : `the command with CmdSN ${bad} (outside [${login.expCmdSN}, ${login.maxCmdSN}] when sent) was answered: ${answers.map((p) => p.kind).join(', ')}`;
    };
    for (let i = 0; i < reach; i++) {
      const itt = session.command(testUnitReady());
      const answer = await session.answer(itt, run.opTimeoutMs);
      const wrong = answeredBad();
      if (wrong !== undefined) throw new ConformanceViolation('RFC 7143 §4.2.2.1', wrong);
      expectThat(
        answer !== undefined,
        'RFC 7143 §3.2.2.1',
        () =>
          `after a ${input.side === 'too-high' ? 'too high' : 'too low'} CmdSN ${bad}, the in-window command CmdSN ${(session.cmdSN - 1) >>> 0} got no answer` +
          (raw.ended === undefined ? '' : ` (the target ended the connection: ${raw.ended.message})`),
      );
    }
    const pingItt = session.ping();
    const pong = await session.answer(pingItt, run.opTimeoutMs);
    const wrong = answeredBad();
    if (wrong !== undefined) throw new ConformanceViolation('RFC 7143 §4.2.2.1', wrong);
    expectThat(pong !== undefined, 'RFC 7143 §11.18', () => 'an immediate NOP-Out ping got no NOP-In');
    expectThat(
      raw.ended === undefined,
      'RFC 7143 §4.2.2.1',
      () => `the target dropped the connection: ${raw.ended?.message ?? ''}`,
    );
  },
});
