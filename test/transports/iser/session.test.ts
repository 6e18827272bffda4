/**
 * The proof that the iSCSI core did not change to run over iSER: our initiator (protocol/initiator) and our target
 * (server/IscsiTarget) talk over IserConnector / IserListener on the in-memory fabric, in virtual time — discovery
 * over iSER, a login that negotiates RDMAExtensions=Yes, a pattern written and read back through the Lun API, a
 * logout — while the tap checks what went on the wire.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../backends/memory.js';
import { discover, login } from '../../../protocol/initiator/index.js';
import { IscsiTarget } from '../../../server/index.js';
import { SeededRandom } from '../../../sim/clock/random.js';
import { COUNTED_OPCODES } from '../../../sim/fabric/index.js';
import { IserConnector, IserListener } from '../../../transports/iser/index.js';
import { pattern } from '../datamover-support.js';
import { fabricWorld, softRoceWorld, TARGET, type IserWorld } from './env.js';
import { decodeSend } from './harness.js';
import { VerbsTap } from './tap.js';

const IQN = 'iqn.2024-01.org.iser-test:session';
const INITIATOR = 'iqn.2024-01.org.iser-test:initiator';

/** One whole session on `world`; returns the tap for provider-specific checks. */
async function wholeSession(world: IserWorld, random: SeededRandom): Promise<VerbsTap> {
  const { clock } = world;
  const tap = new VerbsTap();
  const backend = new MemoryBackend((4 << 20) / 512, { blockSize: 512 });
  const target = new IscsiTarget(
    {
      targets: [{ name: IQN, luns: [{ lun: 0, backend }] }],
      portalGroups: [{ tag: 1, portals: [{ ...TARGET, transport: 'iser' }] }],
    },
    { scheduler: clock, random: random.fork('target'), logoutDeadlineSeconds: 1 },
  );
  const listener = await world.run(
    IserListener.listen(tap.provider(world.targetProvider, 'target'), TARGET, { scheduler: clock }),
  );
  target.serve(listener, 1);
  const connector = new IserConnector(tap.provider(world.initiatorProvider, 'initiator'), { scheduler: clock });
  const common = { connector, initiatorName: INITIATOR, scheduler: clock, random: random.fork('initiator') };

  // Discovery runs over iSER too (a discovery session needs no RDMAExtensions).
  const discovered = await world.run(discover(TARGET, common));
  expect(discovered.map((t) => t.name)).toEqual([IQN]);
  expect(discovered[0]?.addresses.map((a) => `${a.host}:${a.port}`)).toContain('10.0.0.2:3260');

  const session = await world.run(
    login({ ...common, portal: TARGET, targetName: IQN, transport: 'iser', session: { nopIntervalMs: 0 } }),
  );
  expect(session.params).toMatchObject({ rdmaExtensions: true, headerDigest: 'None', dataDigest: 'None' });
  const lun = session.lun(0);
  // The first command after login meets the power-on unit attention, as on any target.
  await world.run(lun.promises.testUnitReady().catch(() => undefined));
  const data = pattern(256 * 1024, 7);
  await world.run(lun.promises.write(100, data));
  const back = await world.run(lun.promises.read(100, data.length / 512));
  expect(back.equals(data)).toBe(true);
  // And it really is on the LUN's storage, not just echoed.
  expect(Buffer.concat(await world.run(backend.read(100, data.length / 512))).equals(data)).toBe(true);
  await world.run(session.logout());
  expect(target.stats.sessions).toBe(0);

  // The wire: the login asked for iSER, the target never sent Data-In or R2T, the data went by RDMA.
  const initiatorKeys = tap
    .sendsOf('initiator')
    .map(decodeSend)
    .filter((s) => s.pdu.kind === 'login-request')
    .map((s) => ('data' in s.pdu ? Buffer.concat(s.pdu.data).toString('latin1') : ''))
    .join('');
  expect(initiatorKeys).toContain('RDMAExtensions=Yes');
  const targetKinds = new Set(tap.sendsOf('target').map((s) => decodeSend(s).pdu.kind));
  expect(targetKinds.has('scsi-data-in')).toBe(false);
  expect(targetKinds.has('r2t')).toBe(false);
  const rdma = tap.sends.filter((s) => s.wr.opcode === 'RDMA_WRITE' || s.wr.opcode === 'RDMA_READ');
  expect(rdma.some((s) => s.wr.opcode === 'RDMA_WRITE')).toBe(true);
  expect(rdma.some((s) => s.wr.opcode === 'RDMA_READ')).toBe(true);

  await world.run(session.close());
  await world.run(target.close());
  return tap;
}

describe('our initiator and our target over iSER', () => {
  it('on sim/fabric: discover, log in with RDMAExtensions=Yes, write a pattern, read it back, log out', async () => {
    const random = new SeededRandom('iser-session');
    const world = fabricWorld({ random: random.fork('fabric') });
    await wholeSession(world, random);
    const counters = world.fabric.counters;
    expect(counters.copies.bytes).toBe(COUNTED_OPCODES.reduce((sum, op) => sum + counters.bytes[op], 0));
  });

  it('on sim/roce (real RoCEv2 packets on an in-memory link): the same session', async () => {
    await wholeSession(await softRoceWorld(3), new SeededRandom('iser-session-roce'));
  });
});
