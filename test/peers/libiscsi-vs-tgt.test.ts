/**
 * Proves the peer harness against the two peers themselves: libiscsi's tools (an independent initiator) against a
 * private tgtd (an independent target). Once our initiator and target exist, each replaces one side of this.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIserError } from '../../protocol/errors.js';
import { PeerErrorCode } from '../support/peers/errors.js';
import {
  iscsiInquiry,
  iscsiLs,
  iscsiLsUrls,
  iscsiLunSize,
  iscsiReadCapacity16,
  iscsiSupportedVpdPages,
  iscsiUnitSerialNumber,
  LibiscsiToolError,
  listTests,
  runIscsiTestCu,
} from '../support/peers/libiscsi.js';
import { startTgt, type TgtInstance } from '../support/peers/tgt.js';
import { missing } from '../support/tools.js';

const LUN_BYTES = 64 * 2 ** 20;
const skip = missing('tgtd', 'apt-get install tgt') ?? missing('iscsi-test-cu', 'apt-get install libiscsi-bin');

/** The error `p` rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(skip)('libiscsi tools against tgt', () => {
  let tgt: TgtInstance;
  beforeAll(async () => {
    tgt = await startTgt({ luns: [{ lun: 1, sizeBytes: LUN_BYTES }] });
  });
  afterAll(async () => {
    await tgt.stop();
  });

  it('iscsi-ls discovers the target on its portal, with LUN 0 (controller) and LUN 1 (disk)', async () => {
    const targets = await iscsiLs(tgt.portalUrl(), { showLuns: true });
    expect(targets).toEqual([
      {
        name: tgt.iqn,
        portal: `127.0.0.1:${tgt.portal.port}`,
        tpgt: 1,
        luns: [
          { lun: 0, type: 'STORAGE_ARRAY_CONTROLLER' },
          { lun: 1, type: 'DIRECT_ACCESS', sizeText: '63M' },
        ],
      },
    ]);
    expect(await iscsiLsUrls(tgt.portalUrl())).toEqual([`iscsi://127.0.0.1:${tgt.portal.port}/${tgt.iqn}/0`]);
  });

  it('iscsi-inq: a direct-access SBC-3 disk with serial number and the mandatory VPD pages', async () => {
    const inq = await iscsiInquiry(tgt.url(1));
    expect(inq.peripheralDeviceType).toBe('DIRECT_ACCESS');
    expect(inq.versionDescriptors.map((d) => d.name)).toContain('SBC-3');
    const pages = await iscsiSupportedVpdPages(tgt.url(1));
    expect(pages).toEqual(expect.arrayContaining([0x00, 0x80, 0x83]));
    expect(await iscsiUnitSerialNumber(tgt.url(1))).not.toBe('');
  });

  it('iscsi-readcapacity16: 512-byte blocks, the LUN size', async () => {
    const rc = await iscsiReadCapacity16(tgt.url(1));
    expect(rc.blockLength).toBe(512);
    expect(rc.totalBytes).toBe(BigInt(LUN_BYTES));
    expect(rc.returnedLba).toBe(BigInt(LUN_BYTES / 512 - 1));
  });

  it('a target name tgt does not serve is refused with status 0x0203 (not found)', async () => {
    const url = tgt.url(1).replace(tgt.iqn, `${tgt.iqn}-nope`);
    const e = await rejection(iscsiLunSize(url));
    expect(e).toBeInstanceOf(LibiscsiToolError);
    expect((e as LibiscsiToolError).loginFailure?.status).toBe(0x0203);
  });

  it('iscsi-test-cu, family iSCSI: every listed test runs and is parsed', async () => {
    const listed = (await listTests()).filter((t) => t.family === 'iSCSI');
    const r = await runIscsiTestCu(tgt.url(1), { tests: 'iSCSI', dataloss: true, timeoutMs: 120_000 });
    console.log(
      `iscsi-test-cu iSCSI vs tgt: ${r.passed} passed / ${r.failed} failed / ${r.skipped} skipped in ${Math.round(r.durationMs)} ms;` +
        ` failed: ${
          r.perTest
            .filter((t) => t.result === 'failed')
            .map((t) => t.name)
            .join(', ') || 'none'
        }`,
    );
    expect(r.total).toBe(listed.length);
    expect(r.perTest.map((t) => t.name).sort()).toEqual(listed.map((t) => `${t.suite}.${t.test}`).sort());
    expect(r.passed + r.failed + r.skipped).toBe(r.total);
    // The CmdSN window checks are basic RFC 7143 behaviour tgt gets right: a sanity check on "passed".
    expect(r.perTest.find((t) => t.name === 'iSCSIcmdsn.iSCSICmdSnTooHigh')?.result).toBe('passed');
  });
});

describe.skipIf(skip)('CHAP on tgt, driven by libiscsi (MD5: libiscsi 1.19 offers only CHAP_A=5)', () => {
  const chap = { user: 'iser-initiator', secret: 'initiator-secret-1' };
  const mutualChap = { user: 'iser-target', secret: 'target-secret-22' };
  let tgt: TgtInstance;
  beforeAll(async () => {
    tgt = await startTgt({ luns: [{ lun: 1, sizeBytes: LUN_BYTES }], chap, mutualChap });
  });
  afterAll(async () => {
    await tgt.stop();
  });

  it('tgt lists both accounts on the target: incoming, and outgoing for mutual CHAP', async () => {
    const show = await tgt.show();
    expect(show).toContain(`        ${chap.user}\n`);
    expect(show).toContain(`        ${mutualChap.user} (outgoing)\n`);
  });

  it('the right secret logs in, one-way and mutual', async () => {
    expect(await iscsiLunSize(tgt.url(1))).toBe(BigInt(LUN_BYTES));
    expect(await iscsiLunSize(tgt.url(1, { mutualChap: undefined }))).toBe(BigInt(LUN_BYTES));
  });

  it('a wrong secret is refused with status 0x0201 (authentication failure)', async () => {
    const e = await rejection(iscsiLunSize(tgt.url(1, { chap: { user: chap.user, secret: 'wrong-secret-12' } })));
    expect((e as LibiscsiToolError).loginFailure).toEqual({ status: 0x0201, text: 'Authentication failure' });
  });

  it('no credentials at all are refused', async () => {
    const e = await rejection(iscsiLunSize(tgt.url(1, { chap: undefined, mutualChap: undefined })));
    expect((e as LibiscsiToolError).loginFailure?.status).toBe(0x0201);
  });

  it('a target that answers with the wrong mutual secret is refused by the initiator', async () => {
    const e = await rejection(
      iscsiLunSize(tgt.url(1, { mutualChap: { user: mutualChap.user, secret: 'not-the-one-12' } })),
    );
    expect(isIserError(e, PeerErrorCode.Exit)).toBe(true);
    expect((e as LibiscsiToolError).stderr).toMatch(/Invalid CHAP_R response from the target/);
  });
});
