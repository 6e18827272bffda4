import { it, expect } from 'vitest';
import { startTgtTcpFixture } from '../support/session-suite/fixtures/tgt-tcp.js';
import { startOursTcpFixture } from '../support/session-suite/fixtures/ours-tcp.js';
import { LunModel } from '../support/session-suite/lun-model.js';
import { firstLun, readyLun, withSession } from '../support/session-suite/session-helpers.js';
import { runWorkload, verifyRegion } from '../support/session-suite/workload.js';
import type { SessionEvent } from '../../protocol/session/initiator-types.js';

for (const [name, make] of [
  ['tgt', startTgtTcpFixture],
  ['ours', startOursTcpFixture],
] as const) {
  it(`${name}: many cuts`, async () => {
    const f = await make();
    try {
      const sl = firstLun(f.target);
      const model = new LunModel(sl.blockSize, sl.blocks);
      await withSession(f, f.target, async (session) => {
        const events: SessionEvent[] = [];
        session.events.subscribe((e) => events.push(e));
        const lun = await readyLun(session, sl, f);
        let cuts = 0;
        let next = 10;
        const report = await runWorkload(lun, model, {
          seed: process.env.ISER_SEED ?? 'stress',
          ops: 400,
          queueDepth: 32,
          region: { lba: 2048, blocks: sl.blocks - 2048 },
          scheduler: f.scheduler,
          opTimeoutMs: 30_000,
          onSettled: (p) => {
            if (p.settled >= next && p.inFlight > 0) {
              next = p.settled + 25;
              cuts += f.killConnections!() > 0 ? 1 : 0;
            }
          },
        });
        console.log(
          name,
          'cuts',
          cuts,
          'ops',
          report.ops,
          'fail',
          report.failures.map((x) => String(x.error)),
          'mis',
          report.mismatches,
          'UA',
          report.unitAttentions,
        );
        console.log(events.map((e) => e.kind + (e.kind === 'reconnected' ? `(${e.reissued})` : '')).join(' '));
        const problems = await verifyRegion(
          lun,
          model,
          { lba: 2048, blocks: sl.blocks - 2048 },
          { queueDepth: 8, scheduler: f.scheduler, opTimeoutMs: 30_000 },
        );
        expect(problems).toEqual([]);
        expect(report.failures).toEqual([]);
        expect(report.mismatches).toEqual([]);
      });
    } finally {
      await f.teardown();
    }
  }, 300_000);
}
