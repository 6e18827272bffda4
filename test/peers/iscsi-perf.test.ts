/**
 * The iscsi-perf bench helper end to end against tgt: a short run is parsed into IOPS, throughput and per-second
 * samples. Speed itself is not judged here (that is bench/'s job); only that the load ran and was read back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIscsiPerf } from '../../bench/peers/iscsi-perf.js';
import { isIserError } from '../../protocol/errors.js';
import { PeerErrorCode } from '../support/peers/errors.js';
import { startTgt, type TgtInstance } from '../support/peers/tgt.js';
import { missing } from '../support/tools.js';

const skip = missing('tgtd', 'apt-get install tgt') ?? missing('iscsi-perf', 'apt-get install libiscsi-bin');

describe.skipIf(skip)('iscsi-perf against tgt', () => {
  let tgt: TgtInstance;
  beforeAll(async () => {
    tgt = await startTgt({ luns: [{ lun: 1, sizeBytes: 16 * 2 ** 20 }] });
  });
  afterAll(async () => {
    await tgt.stop();
  });

  it('a 2-second random 4 KiB QD 4 run reports its shape, IOPS and a sample per second', async () => {
    const r = await runIscsiPerf(tgt.url(1), { blockBytes: 4096, queueDepth: 4, random: true, seconds: 2 });
    expect(r.pattern).toBe('random');
    expect(r.queueDepth).toBe(4);
    expect(r.transferBytes).toBe(4096);
    expect(r.capacityBytes).toBe(16 * 2 ** 20);
    expect(r.finished).toBe(true);
    expect(r.iops).toBeGreaterThan(0);
    expect(r.samples.length).toBeGreaterThanOrEqual(1);
    expect(r.mibPerSecond).toBeCloseTo((r.iops * 4096) / 2 ** 20, 6);
  });

  it('refuses shapes iscsi-perf cannot run', async () => {
    const url = tgt.url(1);
    const bad = [
      runIscsiPerf(url, { blockBytes: 4096, queueDepth: 1, random: false, seconds: 1 }),
      runIscsiPerf(url, { blockBytes: 1000, queueDepth: 1, random: false, seconds: 2, lunBlockBytes: 512 }),
      runIscsiPerf(url, { blockBytes: 4096, queueDepth: 0, random: false, seconds: 2 }),
    ];
    for (const p of bad) {
      const e: unknown = await p.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isIserError(e, PeerErrorCode.BadOption)).toBe(true);
    }
  });
});
