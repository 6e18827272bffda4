/**
 * When a session is reinstated after its connection failed (RFC 7143 §6.3.5), the old I_T nexus was lost — its
 * tasks were ended without a status — so the logical unit owes the initiator port a unit attention, I_T NEXUS LOSS
 * OCCURRED (ASC/ASCQ 29h/07h; SAM-5 "I_T nexus loss"). tgt 1.0.85 reports 29h/00h here.
 */
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScsiStatusError } from '../../protocol/scsi/errors.js';
import { SenseKey } from '../../protocol/scsi/sense-codes.js';
import type { SessionFixture } from '../support/session-suite/fixture.js';
import { startOursTcpFixture } from '../support/session-suite/fixtures/ours-tcp.js';
import { firstLun, readyLun, withSession } from '../support/session-suite/session-helpers.js';
import { bounded } from '../support/session-suite/workload.js';

describe('our target after session reinstatement', () => {
  let fixture: SessionFixture | undefined;
  beforeAll(async () => {
    fixture = await startOursTcpFixture();
  });
  afterAll(async () => {
    await fixture?.teardown();
  });

  it('reports I_T NEXUS LOSS OCCURRED to the first command after recovery', async () => {
    const f = fixture;
    if (f?.killConnections === undefined) throw new Error('fixture did not start');
    const kill = f.killConnections.bind(f);
    await withSession(f, f.target, async (session) => {
      const lun = await readyLun(session, firstLun(f.target), f);
      const reconnected = firstValueFrom(
        session.events.pipe(
          filter((e) => e.kind === 'reconnected'),
          timeout({ first: 10_000, scheduler: f.scheduler }),
        ),
      );
      expect(kill()).toBe(1);
      await reconnected;
      const error = await bounded(lun.testUnitReady(), 10_000, f.scheduler).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ScsiStatusError);
      const sense = (error as ScsiStatusError).sense;
      expect([sense?.key, sense?.asc, sense?.ascq]).toEqual([SenseKey.UnitAttention, 0x29, 0x07]);
    });
  });
});
