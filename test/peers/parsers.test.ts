/**
 * The peer-output parsers on output captured from the real tools (libiscsi 1.19 against tgt 1.0.85, in
 * test/peers/fixtures/), so they are checked on every machine, with or without the tools installed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIscsiPerf } from '../../bench/peers/iscsi-perf-parse.js';
import { isIserError } from '../../protocol/errors.js';
import { TGT_1_0_85_TEST_CU_BASELINE } from '../support/peers/baselines.js';
import { PeerErrorCode } from '../support/peers/errors.js';
import { iscsiUrl } from '../support/peers/iscsi-url.js';
import {
  parseIscsiLs,
  parseLoginFailure,
  parseReadCapacity16,
  parseReadCapacitySize,
  parseStandardInquiry,
  parseSupportedVpdPages,
  parseUnitSerialNumber,
} from '../support/peers/libiscsi.js';
import {
  parseCunitResultsXml,
  parseTestCuConsole,
  parseTestCuList,
  toJUnitXml,
} from '../support/peers/test-cu-parse.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** Runs `fn`, expecting a harness error with `code`. */
function expectPeerError(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isIserError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

describe('libiscsi tool output', () => {
  it('iscsi-ls -s: one target, its portal group, LUN 0 controller and two disks', () => {
    const targets = parseIscsiLs(fixture('iscsi-ls-s.txt'));
    expect(targets).toHaveLength(1);
    const [t] = targets;
    expect(t?.name).toBe('iqn.2024-01.org.iser-test:tgt');
    expect(t?.portal).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(t?.tpgt).toBe(1);
    expect(t?.luns).toEqual([
      { lun: 0, type: 'STORAGE_ARRAY_CONTROLLER' },
      // libiscsi rounds sizes down, and not to the nearest unit: 64 MiB prints as 63M, 3 GiB as 2G.
      { lun: 1, type: 'DIRECT_ACCESS', sizeText: '63M' },
      { lun: 2, type: 'DIRECT_ACCESS', sizeText: '2G' },
    ]);
  });

  it('iscsi-ls: a line of unknown shape is an error, not silently dropped', () => {
    expectPeerError(() => parseIscsiLs('Target:iqn.x Portal:127.0.0.1:3260,1\nsomething else\n'), PeerErrorCode.Parse);
  });

  it('iscsi-inq: standard INQUIRY of a tgt disk', () => {
    const inq = parseStandardInquiry(fixture('iscsi-inq.txt'));
    expect(inq.peripheralDeviceType).toBe('DIRECT_ACCESS');
    expect(inq.peripheralQualifier).toBe('CONNECTED');
    expect(inq.vendor).toBe('IET');
    expect(inq.product).toBe('VIRTUAL-DISK');
    expect(inq.version).toBe(5);
    expect(inq.cmdQue).toBe(true);
    expect(inq.removable).toBe(false);
    expect(inq.versionDescriptors.map((d) => d.code)).toEqual([0x04c0, 0x0960, 0x0300]);
  });

  it('iscsi-inq: VPD pages and unit serial number', () => {
    expect(parseSupportedVpdPages(fixture('iscsi-inq-vpd-00.txt'))).toEqual([0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
    expect(parseUnitSerialNumber(fixture('iscsi-inq-vpd-80.txt'))).toBe('beaf11');
  });

  it('iscsi-readcapacity16: a 3 GiB LUN of 512-byte blocks', () => {
    const rc = parseReadCapacity16(fixture('iscsi-readcapacity16.txt'));
    expect(rc.blockLength).toBe(512);
    expect(rc.returnedLba).toBe((3n * 2n ** 30n) / 512n - 1n);
    expect(rc.totalBytes).toBe(3n * 2n ** 30n);
    expect(rc.lbppbExponent).toBe(3);
    expect(parseReadCapacitySize('67108864\n')).toBe(64n * 2n ** 20n);
  });

  it('iscsi-readcapacity16: a missing line is a parse error', () => {
    const cut = fixture('iscsi-readcapacity16.txt').replace(/^LOGICAL BLOCK LENGTH.*$/m, '');
    expectPeerError(() => parseReadCapacity16(cut), PeerErrorCode.Parse);
  });

  it('login failures carry the RFC 7143 status', () => {
    const stderr = 'Login Failed. Failed to log in to target. Status: Authentication failure(513)\n';
    expect(parseLoginFailure(stderr)).toEqual({ text: 'Authentication failure', status: 0x0201 });
    expect(parseLoginFailure('Login Failed. Authentication failed. Invalid CHAP_R response from the target')).toBe(
      undefined,
    );
  });
});

describe('iscsi-test-cu output', () => {
  const consoleText = fixture('test-cu-console.txt');

  it('console: per-test outcomes, skips told apart from passes', () => {
    const report = parseTestCuConsole(consoleText);
    const by = (r: string): string[] => report.perTest.filter((t) => t.result === r).map((t) => t.name);
    expect(report.perTest).toHaveLength(19);
    expect(by('failed')).toEqual(['GetLBAStatus.BeyondEol', 'PrinReadKeys.Truncate']);
    expect(by('skipped')).toEqual([
      'GetLBAStatus.UnmapSingle',
      'CompareAndWrite.Simple',
      'CompareAndWrite.DpoFua',
      'CompareAndWrite.Miscompare',
      'CompareAndWrite.Unwritten',
      'CompareAndWrite.InvalidDataOutSize',
      'Inquiry.BlockLimits',
    ]);
    expect(by('passed')).toHaveLength(10);
    expect(report.summary?.tests).toEqual({ total: 19, ran: 19, passed: 17, failed: 2, inactive: 0 });
  });

  it('console: the full ALL --dataloss run against tgt 1.0.85 gives the recorded baseline', () => {
    const report = parseTestCuConsole(fixture('test-cu-all-dataloss-tgt-1.0.85.txt'));
    const count = (r: string): number => report.perTest.filter((t) => t.result === r).length;
    const b = TGT_1_0_85_TEST_CU_BASELINE;
    expect([count('passed'), count('failed'), count('skipped')]).toEqual([b.passed, b.failed, b.skipped]);
    expect(report.perTest.filter((t) => t.result === 'failed').map((t) => t.name)).toEqual(b.failedTests);
  });

  it('console: the ALL run without --dataloss (most writes skip, reservation tests fail)', () => {
    const report = parseTestCuConsole(fixture('test-cu-all-tgt-1.0.85.txt'));
    const count = (r: string): number => report.perTest.filter((t) => t.result === r).length;
    expect([count('passed'), count('failed'), count('skipped')]).toEqual([84, 21, 125]);
  });

  it('console: a suite teardown logging after the verdict does not change it', () => {
    const report = parseTestCuConsole(fixture('test-cu-all-dataloss-tgt-1.0.85.txt'));
    const lunReset = report.perTest.find((t) => t.name === 'Reserve6.LUNReset');
    expect(lunReset?.result).toBe('passed');
    expect(lunReset?.messages).toEqual([
      'after the verdict: [FAILED] PRIN command: failed with sense. SENSE KEY:UNIT_ATTENTION(6) ASCQ:BUS_RESET(0x2900)',
    ]);
  });

  it('console: failure messages keep the test log line and the CUnit assertions', () => {
    const beyond = parseTestCuConsole(consoleText).perTest.find((t) => t.name === 'GetLBAStatus.BeyondEol');
    expect(beyond?.messages[0]).toMatch(/^\[FAILED\] GET_LBA_STATUS successful/);
    expect(beyond?.messages[1]).toBe('test_get_lba_status_beyond_eol.c:38  - CU_ASSERT_EQUAL(_r,0)');
  });

  it('console: a parse that disagrees with CUnit summary is an error', () => {
    const tampered = consoleText.replace(/tests\s+19\s+19\s+17\s+2/, 'tests     19     19     16      3');
    expectPeerError(() => parseTestCuConsole(tampered), PeerErrorCode.Parse);
  });

  it('console: a run cut off before the summary parses what finished and has no summary', () => {
    const cut = consoleText.slice(0, consoleText.indexOf('Run Summary:'));
    const report = parseTestCuConsole(cut);
    expect(report.summary).toBeUndefined();
    expect(report.perTest).toHaveLength(19);
  });

  it('CUnit XML of the same run agrees with the console (skips read as passes there)', () => {
    const xml = parseCunitResultsXml(fixture('test-cu-results.xml'));
    const cons = parseTestCuConsole(consoleText).perTest;
    expect(xml.map((t) => t.name).sort()).toEqual(cons.map((t) => t.name).sort());
    for (const t of xml) {
      const c = cons.find((x) => x.name === t.name);
      expect(t.result, t.name).toBe(c?.result === 'failed' ? 'failed' : 'passed');
    }
    const truncate = xml.find((t) => t.name === 'PrinReadKeys.Truncate');
    // Three failed assertions are three XML records, folded into one test; &gt; is unescaped.
    expect(truncate?.failures).toHaveLength(3);
    expect(truncate?.failures[1]).toBe(
      'test_prin_read_keys_truncate.c:67 CU_ASSERT_NOT_EQUAL(rk->additional_length,0)',
    );
  });

  it('JUnit XML: counts, skipped and failure elements, escaping', () => {
    const xml = toJUnitXml('run <1>', parseTestCuConsole(consoleText).perTest);
    expect(xml).toContain('<testsuites name="run &lt;1&gt;" tests="19" failures="2" skipped="7">');
    expect(xml.match(/<testcase /g)).toHaveLength(19);
    expect(xml.match(/<skipped /g)).toHaveLength(7);
    expect(xml.match(/<failure /g)).toHaveLength(2);
    expect(xml).toContain('rk-&gt;additional_length');
  });

  it('--list: 230 tests in family ALL (libiscsi 1.19), the iSCSI family among the others', () => {
    const list = parseTestCuList(fixture('test-cu-list.txt'));
    expect(list.filter((e) => e.family === 'ALL')).toHaveLength(230);
    expect(list.map((e) => e.name)).toContain('iSCSI.iSCSIcmdsn.iSCSICmdSnTooHigh');
    expect(new Set(list.map((e) => e.family))).toEqual(new Set(['ALL', 'SCSI', 'iSCSI', 'LINUX']));
  });
});

describe('iscsi-perf output', () => {
  it('random 4 KiB, QD 32, one line per second (-l)', () => {
    const r = parseIscsiPerf(fixture('iscsi-perf-random-qd32-logging.txt'));
    expect(r.pattern).toBe('random');
    expect(r.queueDepth).toBe(32);
    expect(r.transferBytes).toBe(4096);
    expect(r.capacityBytes).toBe(64 * 2 ** 20);
    expect(r.iops).toBe(18117);
    expect(r.toolMibPerSecond).toBe(70);
    expect(r.mibPerSecond).toBeCloseTo((18117 * 4096) / 2 ** 20, 6);
    expect(r.samples.map((s) => [s.remainingSeconds, s.iops, s.inFlight])).toEqual([
      [2, 13189, 32],
      [1, 13801, 32],
    ]);
    expect(r.finished).toBe(true);
  });

  it('sequential 1 MiB, progress overwritten with \\r', () => {
    const r = parseIscsiPerf(fixture('iscsi-perf-sequential-1m.txt'));
    expect(r.pattern).toBe('sequential');
    expect(r.transferBytes).toBe(2 ** 20);
    expect(r.iops).toBe(679);
    expect(r.mibPerSecond).toBe(679);
    expect(r.samples).toHaveLength(2);
  });

  it('an aborted run has no final average', () => {
    const aborted = fixture('iscsi-perf-sequential-1m.txt').replace(
      /\riops average[^\n]*\n\nfinished\.\n$/,
      '\nABORTED!\n',
    );
    expectPeerError(() => parseIscsiPerf(aborted), PeerErrorCode.Parse);
  });
});

describe('libiscsi URLs', () => {
  it('carry CHAP, mutual CHAP and the header digest the way libiscsi parses them', () => {
    expect(
      iscsiUrl({
        host: '127.0.0.1',
        port: 3260,
        iqn: 'iqn.2024-01.x:y',
        lun: 1,
        chap: { user: 'alice', secret: 'secret12345' },
        mutualChap: { user: 'target', secret: 'tsecret12345' },
        headerDigest: 'crc32c',
      }),
    ).toBe(
      'iscsi://alice%secret12345@127.0.0.1:3260/iqn.2024-01.x:y/1?header_digest=crc32c&target_user=target&target_password=tsecret12345',
    );
    expect(iscsiUrl({ host: '127.0.0.1', port: 3260 })).toBe('iscsi://127.0.0.1:3260');
  });

  it('refuse what libiscsi would misread, and non-loopback hosts', () => {
    const base = { port: 3260, iqn: 'iqn.x:y', lun: 1 };
    expectPeerError(
      () => iscsiUrl({ ...base, host: '127.0.0.1', chap: { user: 'a', secret: 'p@ss' } }),
      'ERR_PEER_BAD_OPTION',
    );
    expectPeerError(
      () => iscsiUrl({ ...base, host: '127.0.0.1', chap: { user: 'a%b', secret: 'x' } }),
      'ERR_PEER_BAD_OPTION',
    );
    expectPeerError(() => iscsiUrl({ ...base, host: '10.0.0.1' }), 'ERR_PEER_BAD_OPTION');
    expectPeerError(
      () => iscsiUrl({ ...base, host: '127.0.0.1', mutualChap: { user: 't', secret: 's' } }),
      'ERR_PEER_BAD_OPTION',
    );
  });
});
