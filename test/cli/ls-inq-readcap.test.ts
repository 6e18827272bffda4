/** `iser ls`, `iser inq` and `iser readcap` against our own target, their output read with the libiscsi parsers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseIscsiLs,
  parseIscsiLsUrls,
  parseReadCapacity16,
  parseStandardInquiry,
  parseSupportedVpdPages,
  parseUnitSerialNumber,
} from '../support/peers/libiscsi-parse.js';
import { iser, LUN_BLOCKS, startTarget, TEST_IQN, type TestTarget } from './support.js';

let served: TestTarget;

beforeAll(async () => {
  served = await startTarget();
});

afterAll(async () => {
  await served.close();
});

describe('iser ls', () => {
  it('lists the target and its LUNs as iscsi-ls -s does', async () => {
    const run = await iser(['ls', served.portalUrl]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const targets = parseIscsiLs(run.stdout);
    expect(targets).toEqual([
      {
        name: TEST_IQN,
        portal: `127.0.0.1:${served.port}`,
        tpgt: 1,
        luns: [
          { lun: 0, type: 'DIRECT_ACCESS', sizeText: '8M' },
          { lun: 1, type: 'DIRECT_ACCESS', sizeText: '1M' },
        ],
      },
    ]);
  });

  it('prints one URL per LUN with --url, and only targets with --no-luns', async () => {
    const urls = await iser(['ls', '--url', served.portalUrl]);
    expect(urls.code).toBe(0);
    expect(parseIscsiLsUrls(urls.stdout)).toEqual([served.url(0), served.url(1)]);
    const targetsOnly = await iser(['ls', '--no-luns', served.portalUrl]);
    expect(targetsOnly.code).toBe(0);
    expect(parseIscsiLs(targetsOnly.stdout)[0]?.luns).toEqual([]);
  });
});

describe('iser inq', () => {
  it('prints standard INQUIRY data as iscsi-inq does', async () => {
    const run = await iser(['inq', '--standard', served.url(0)]);
    expect(run.code).toBe(0);
    const inq = parseStandardInquiry(run.stdout);
    expect(inq.peripheralQualifier).toBe('CONNECTED');
    expect(inq.peripheralDeviceType).toBe('DIRECT_ACCESS');
    expect(inq.cmdQue).toBe(true);
    expect(inq.versionDescriptors.map((d) => d.name)).toContain('SBC-3');
    expect(run.stdout).not.toContain('VPD Page');
  });

  it('adds every supported VPD page by default, and shows one page with --page', async () => {
    const all = await iser(['inq', served.url(1)]);
    expect(all.code).toBe(0);
    for (const name of ['SUPPORTED_VPD_PAGES', 'UNIT_SERIAL_NUMBER', 'DEVICE_IDENTIFICATION', 'BLOCK_LIMITS']) {
      expect(all.stdout).toContain(`VPD Page:`);
      expect(all.stdout).toContain(name);
    }
    expect(all.stdout).toMatch(/^Designator:TARGET_DEVICE SCSI_NAME_STRING iqn\.2024-01\.org\.iser-test:cli$/m);
    const pages = await iser(['inq', '--page', '0', served.url(0)]);
    expect(parseSupportedVpdPages(pages.stdout)).toEqual(expect.arrayContaining([0x00, 0x80, 0x83, 0xb0]));
    const serial = await iser(['inq', '-c', '0x80', served.url(0)]);
    expect(parseUnitSerialNumber(serial.stdout)).not.toBe('');
  });
});

describe('iser readcap', () => {
  it('prints READ CAPACITY(16) as iscsi-readcapacity16 does', async () => {
    const run = await iser(['readcap', served.url(1)]);
    expect(run.code).toBe(0);
    const rc = parseReadCapacity16(run.stdout);
    expect(rc.returnedLba).toBe(BigInt(LUN_BLOCKS[1] - 1));
    expect(rc.blockLength).toBe(512);
    expect(rc.totalBytes).toBe(BigInt(LUN_BLOCKS[1] * 512));
  });

  it('prints only the size with --size', async () => {
    const run = await iser(['readcap', '--size', served.url(0)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${LUN_BLOCKS[0] * 512}\n`);
  });

  it('ends with exit code 3 and the sense when the LUN does not exist', async () => {
    const run = await iser(['readcap', served.url(7)]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^iser: .*IllegalRequest/m);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
