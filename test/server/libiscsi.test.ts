/**
 * libiscsi (Debian libiscsi-bin) against our target over TCP on 127.0.0.1: discovery, INQUIRY, READ CAPACITY,
 * CHAP, and the conformance suite iscsi-test-cu, which must pass with no failure at all. tgt 1.0.85 scores 160 pass /
 * 8 fail / 62 skip on `--test=ALL`; our target 171 pass / 0 fail / 59 skip (64 MiB memory LUN, two initiator names).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { IscsiTarget } from '../../server/iscsi-target.js';
import {
  iscsiInquiry,
  iscsiLs,
  iscsiLunSize,
  iscsiUrl,
  LibiscsiToolError,
  listTests,
  runIscsiTestCu,
  type TestCuResult,
} from '../support/peers/libiscsi.js';
import { missing } from '../support/tools.js';

const OPEN = 'iqn.2024-01.org.example:open';
const GUARDED = 'iqn.2024-01.org.example:guarded';
const CHAP = { user: 'libiscsi', secret: 'a-long-chap-secret' };
const LUN_BYTES = 64 * 1024 * 1024;

/** The fewest iscsi-test-cu ALL passes we accept: today's score, so a pass that turns into a skip shows. */
const MIN_ALL_PASSES = 171;

const reason = missing('iscsi-test-cu', 'apt-get install libiscsi-bin');

describe.skipIf(reason !== undefined)('libiscsi against the iser target (TCP, 127.0.0.1)', () => {
  let target: IscsiTarget;
  let port: number;

  beforeAll(async () => {
    target = await IscsiTarget.listen({
      targets: [
        { name: OPEN, luns: [{ lun: 0, backend: new MemoryBackend(LUN_BYTES / 512) }] },
        { name: GUARDED, luns: [{ lun: 0, backend: new MemoryBackend(2048) }], chap: { accounts: [CHAP] } },
      ],
      portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
    });
    port = target.portals[0]!.address.port;
  });

  afterAll(async () => {
    await target.close();
  });

  const url = (iqn: string, chap?: typeof CHAP): string =>
    iscsiUrl({ host: '127.0.0.1', port, iqn, lun: 0, ...(chap === undefined ? {} : { chap }) });

  it('iscsi-ls discovers both targets', async () => {
    const found = await iscsiLs(iscsiUrl({ host: '127.0.0.1', port }));
    // libiscsi lists targets in reverse order of the answer.
    expect(found.map((t) => [t.name, t.portal, t.tpgt]).sort()).toEqual([
      [GUARDED, `127.0.0.1:${port}`, 1],
      [OPEN, `127.0.0.1:${port}`, 1],
    ]);
  });

  it('iscsi-inq and iscsi-readcapacity16 see the LUN', async () => {
    expect((await iscsiInquiry(url(OPEN))).vendor).toBe('ISER');
    expect(await iscsiLunSize(url(OPEN))).toBe(BigInt(LUN_BYTES));
  });

  it('logs in with CHAP (MD5), and refuses a wrong secret with 0x0201', async () => {
    expect(await iscsiLunSize(url(GUARDED, CHAP))).toBe(2048n * 512n);
    const refused = await iscsiLunSize(url(GUARDED, { ...CHAP, secret: 'not-the-secret-at-all' })).catch(
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(LibiscsiToolError);
    expect((refused as LibiscsiToolError).loginFailure?.status).toBe(0x0201);
  });

  const failures = (result: TestCuResult): string[] =>
    result.perTest.filter((t) => t.result === 'failed').map((t) => t.name);

  it('passes every iscsi-test-cu iSCSI-family test', { timeout: 120_000 }, async () => {
    const result = await runIscsiTestCu(url(OPEN), {
      tests: 'iSCSI.*',
      dataloss: true,
      timeoutMs: 110_000,
      initiatorName: 'iqn.2024-01.org.example:cu1',
      initiatorName2: 'iqn.2024-01.org.example:cu2',
    });
    expect(result.total).toBeGreaterThanOrEqual(15);
    expect(failures(result)).toEqual([]);
    // Skipped counts as not passed: every iSCSI test that ran must pass.
    expect(result.perTest.filter((t) => t.result !== 'passed').map((t) => `${t.name}: ${t.result}`)).toEqual([]);
  });

  it(
    `scores at least ${MIN_ALL_PASSES} passes and no failure on iscsi-test-cu --test=ALL, every iSCSI.* test passing`,
    { timeout: 600_000 },
    async () => {
      const result = await runIscsiTestCu(url(OPEN), {
        tests: 'ALL',
        dataloss: true,
        timeoutMs: 590_000,
        initiatorName: 'iqn.2024-01.org.example:cu1',
        initiatorName2: 'iqn.2024-01.org.example:cu2',
      });
      console.log(`iscsi-test-cu ALL: ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped`);
      expect(failures(result)).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.passed).toBeGreaterThanOrEqual(MIN_ALL_PASSES);
      // The iSCSI family (transport-level tests) inside ALL: each must have run and passed, none skipped.
      const iscsiFamily = (await listTests()).filter((t) => t.family === 'iSCSI').map((t) => `${t.suite}.${t.test}`);
      expect(iscsiFamily.length).toBeGreaterThanOrEqual(15);
      const outcome = new Map(result.perTest.map((t) => [t.name, t.result]));
      expect(iscsiFamily.filter((name) => outcome.get(name) !== 'passed')).toEqual([]);
    },
  );
});
