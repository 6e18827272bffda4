/** Smoke test of bench/iser-vs-tcp.ts: a tiny budget produces well-formed figures (no speed threshold). */
import { describe, expect, it } from 'vitest';
import { formatIserVsTcpReport, runIserVsTcpBench } from '../../bench/iser-vs-tcp.js';

describe('bench/iser-vs-tcp', () => {
  it('measures both transports and the speed of virtual time', async () => {
    const result = await runIserVsTcpBench({ seconds: 0.3, rounds: 1, lunBytes: 8 << 20 });
    const figures = [result.iser.iops.median, result.tcp.iops.median, result.ratio, result.iser.cpuUs.median];
    figures.push(...result.virtualTime.flatMap((v) => [v.speed.median, v.eventsPerSecond.median]));
    expect(result.virtualTime).toHaveLength(2);
    for (const figure of figures) {
      expect(Number.isFinite(figure)).toBe(true);
      expect(figure).toBeGreaterThan(0);
    }
    expect(formatIserVsTcpReport(result)).toContain('vs TCP');
  });
});
