import { describe, expect, it, vi } from 'vitest';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import {
  decodeIscsiTransportId,
  decodePrCapabilities,
  decodePrFullStatus,
  decodePrReadKeys,
  decodePrReadReservation,
  encodePrOutParameters,
  type PrOutParameters,
} from '../../../../protocol/scsi/data/persistent-reservation.js';
import { PrInAction, PrOutAction, PrType } from '../../../../protocol/scsi/opcodes.js';
import { AdditionalSense as A, SenseKey as K } from '../../../../protocol/scsi/sense-codes.js';
import { ScsiStatus } from '../../../../protocol/scsi/status.js';
import type { LogicalUnit } from '../../../../protocol/scsi/target/logical-unit.js';
import type { ScsiNexus } from '../../../../protocol/scsi/target/types.js';
import { check, good, NEXUS_A, NEXUS_B, readyUnit, run, type Outcome } from './harness.js';

/** Sends PERSISTENT RESERVE OUT from `nexus`. */
function prOut(
  unit: LogicalUnit,
  nexus: ScsiNexus,
  action: number,
  params: Partial<PrOutParameters>,
  type = 0,
  scope = 0,
): Promise<Outcome> {
  return run(unit, cdb.persistentReserveOut({ serviceAction: action, type, scope }), {
    nexus,
    dataOut: encodePrOutParameters(params),
  });
}

const register = (unit: LogicalUnit, nexus: ScsiNexus, key: bigint): Promise<Outcome> =>
  prOut(unit, nexus, PrOutAction.RegisterAndIgnoreExistingKey, { serviceActionReservationKey: key });

async function keys(unit: LogicalUnit, nexus = NEXUS_A) {
  return decodePrReadKeys(await good(unit, cdb.persistentReserveIn({ serviceAction: PrInAction.ReadKeys }), { nexus }));
}

async function reservation(unit: LogicalUnit, nexus = NEXUS_A) {
  return decodePrReadReservation(
    await good(unit, cdb.persistentReserveIn({ serviceAction: PrInAction.ReadReservation }), { nexus }),
  );
}

/** Clears whatever unit attention is pending for `nexus`. */
async function drain(unit: LogicalUnit, nexus: ScsiNexus): Promise<number[]> {
  const seen: number[] = [];
  for (;;) {
    const outcome = await run(unit, cdb.testUnitReady(), { nexus });
    if (outcome.sense?.key !== K.UnitAttention) return seen;
    seen.push((outcome.sense.asc << 8) | outcome.sense.ascq);
  }
}

describe('persistent reservations: registration', () => {
  it('registers, refuses a re-register with the wrong key, unregisters (libiscsi prout_register_simple)', async () => {
    const { unit } = await readyUnit();
    expect((await prOut(unit, NEXUS_A, PrOutAction.Register, { serviceActionReservationKey: 0x1234n })).status).toBe(0);
    expect((await keys(unit)).keys).toEqual([0x1234n]);
    const again = await prOut(unit, NEXUS_A, PrOutAction.Register, { serviceActionReservationKey: 0x1235n });
    expect(again.status).toBe(ScsiStatus.ReservationConflict);
    expect(again.sense).toBeUndefined();
    await good(unit, cdb.persistentReserveOut({ serviceAction: PrOutAction.Register }), {
      dataOut: encodePrOutParameters({ reservationKey: 0x1234n, serviceActionReservationKey: 0x9n }),
    });
    expect((await keys(unit)).keys).toEqual([0x9n]);
    await prOut(unit, NEXUS_A, PrOutAction.Register, { reservationKey: 0x9n });
    expect((await keys(unit)).keys).toEqual([]);
  });

  it('counts PRgeneration for registrations, CLEAR and PREEMPT, not for RESERVE/RELEASE or no-ops', async () => {
    const { unit } = await readyUnit();
    await prOut(unit, NEXUS_A, PrOutAction.Register, {}); // unregistered and key 0: nothing happens
    expect((await keys(unit)).generation).toBe(0);
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    expect((await keys(unit)).generation).toBe(2);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, PrType.WriteExclusive);
    await prOut(unit, NEXUS_A, PrOutAction.Release, { reservationKey: 1n }, PrType.WriteExclusive);
    expect((await keys(unit)).generation).toBe(2);
    await prOut(
      unit,
      NEXUS_B,
      PrOutAction.Preempt,
      { reservationKey: 2n, serviceActionReservationKey: 1n },
      PrType.ExclusiveAccess,
    );
    expect(await keys(unit, NEXUS_B)).toEqual({ generation: 3, keys: [2n], additionalLength: 8 });
    await prOut(unit, NEXUS_B, PrOutAction.Clear, { reservationKey: 2n });
    expect(await keys(unit, NEXUS_B)).toEqual({ generation: 4, keys: [], additionalLength: 0 });
  });

  it('keeps ADDITIONAL LENGTH when the allocation length cuts the keys', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 7n);
    const data = await good(unit, cdb.persistentReserveIn({ serviceAction: PrInAction.ReadKeys, allocationLength: 8 }));
    expect(decodePrReadKeys(data)).toEqual({ generation: 1, keys: [], additionalLength: 8 });
  });
});

describe('persistent reservations: reserve and release', () => {
  const types = [1, 3, 5, 6, 7, 8];

  it.each(types)('reserves and releases type %i; all-registrants types report key 0', async (type) => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 0xabn);
    await good(unit, cdb.persistentReserveOut({ serviceAction: PrOutAction.Reserve, type }), {
      dataOut: encodePrOutParameters({ reservationKey: 0xabn }),
    });
    const allRegistrants = type === 7 || type === 8;
    expect((await reservation(unit)).reservation).toEqual({ key: allRegistrants ? 0n : 0xabn, scope: 0, type });
    // Reserving again with the same type is fine; another type conflicts.
    expect((await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 0xabn }, type)).status).toBe(0);
    expect(
      (await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 0xabn }, type === 1 ? 3 : 1)).status,
    ).toBe(ScsiStatus.ReservationConflict);
    await good(unit, cdb.persistentReserveOut({ serviceAction: PrOutAction.Release, type }), {
      dataOut: encodePrOutParameters({ reservationKey: 0xabn }),
    });
    expect((await reservation(unit)).reservation).toBeUndefined();
  });

  it('refuses RESERVE from an unregistered nexus or with a wrong key, and an invalid scope or type', async () => {
    const { unit } = await readyUnit();
    expect((await prOut(unit, NEXUS_B, PrOutAction.Reserve, {}, 1)).status).toBe(ScsiStatus.ReservationConflict);
    await register(unit, NEXUS_A, 5n);
    expect((await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 6n }, 1)).status).toBe(
      ScsiStatus.ReservationConflict,
    );
    expect((await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 5n }, 2)).sense).toMatchObject({
      asc: 0x24,
      senseKeySpecific: { fieldPointer: 2, bitPointer: 3 },
    });
    expect((await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 5n }, 1, 1)).sense).toMatchObject({
      asc: 0x24,
      senseKeySpecific: { fieldPointer: 2, bitPointer: 7 },
    });
  });

  it('refuses a RELEASE of another type with INVALID RELEASE OF PERSISTENT RESERVATION; a non-holder RELEASE does nothing', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, PrType.ExclusiveAccess);
    await check(
      unit,
      cdb.persistentReserveOut({ serviceAction: PrOutAction.Release, type: 1 }),
      K.IllegalRequest,
      A.InvalidReleaseOfPersistentReservation,
      {
        dataOut: encodePrOutParameters({ reservationKey: 1n }),
      },
    );
    expect((await prOut(unit, NEXUS_B, PrOutAction.Release, { reservationKey: 2n }, 3)).status).toBe(0);
    expect((await reservation(unit)).reservation?.type).toBe(3);
  });

  it('tells the other registrants RESERVATIONS RELEASED when a registrants-only reservation is released', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, PrType.WriteExclusiveRegistrantsOnly);
    await prOut(unit, NEXUS_A, PrOutAction.Release, { reservationKey: 1n }, PrType.WriteExclusiveRegistrantsOnly);
    expect(await drain(unit, NEXUS_B)).toEqual([A.ReservationsReleased]);
    expect(await drain(unit, NEXUS_A)).toEqual([]);
  });
});

describe('persistent reservations: access by type (iscsi-test-cu prout_reserve_access)', () => {
  // [type, registered B reads, registered B writes, unregistered B reads, unregistered B writes]
  const table: [string, number, boolean, boolean, boolean, boolean][] = [
    ['EA', PrType.ExclusiveAccess, false, false, false, false],
    ['WE', PrType.WriteExclusive, true, false, true, false],
    ['EA-RO', PrType.ExclusiveAccessRegistrantsOnly, true, true, false, false],
    ['WE-RO', PrType.WriteExclusiveRegistrantsOnly, true, true, true, false],
    ['EA-AR', PrType.ExclusiveAccessAllRegistrants, true, true, false, false],
    ['WE-AR', PrType.WriteExclusiveAllRegistrants, true, true, true, false],
  ];

  it.each(table)('%s', async (_name, type, regRead, regWrite, unregRead, unregWrite) => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 0xa1n);
    await register(unit, NEXUS_B, 0xb2n);
    await good(unit, cdb.persistentReserveOut({ serviceAction: PrOutAction.Reserve, type }), {
      nexus: NEXUS_A,
      dataOut: encodePrOutParameters({ reservationKey: 0xa1n }),
    });
    const read = (nexus: ScsiNexus) => run(unit, cdb.read10({ lba: 1, blocks: 1 }), { nexus });
    const write = (nexus: ScsiNexus) =>
      run(unit, cdb.write10({ lba: 1, blocks: 1 }), { nexus, dataOut: Buffer.alloc(512) });
    const allowed = (o: Outcome) => o.status === ScsiStatus.Good;
    expect(allowed(await read(NEXUS_A)) && allowed(await write(NEXUS_A))).toBe(true);
    expect([allowed(await read(NEXUS_B)), allowed(await write(NEXUS_B))]).toEqual([regRead, regWrite]);
    const conflict = await write(NEXUS_B);
    if (!regWrite) expect([conflict.status, conflict.pulls]).toEqual([ScsiStatus.ReservationConflict, 0]);
    await prOut(unit, NEXUS_B, PrOutAction.Register, { reservationKey: 0xb2n });
    expect([allowed(await read(NEXUS_B)), allowed(await write(NEXUS_B))]).toEqual([unregRead, unregWrite]);
    // Commands allowed under every reservation.
    for (const bytes of [
      cdb.inquiry(),
      cdb.testUnitReady(),
      cdb.readCapacity10(),
      cdb.reportLuns(),
      cdb.requestSense(),
    ]) {
      await good(unit, bytes, { nexus: NEXUS_B });
    }
    await good(unit, cdb.persistentReserveIn({ serviceAction: 0 }), { nexus: NEXUS_B });
    // Mode sense conflicts only for an unregistered nexus under the exclusive-access types.
    const exclusive = type === 3 || type === 6 || type === 8;
    expect((await run(unit, cdb.modeSense({ pageCode: 0x3f }), { nexus: NEXUS_B })).status).toBe(
      exclusive ? ScsiStatus.ReservationConflict : ScsiStatus.Good,
    );
  });
});

describe('persistent reservations: ownership (iscsi-test-cu prout_reserve_ownership)', () => {
  it.each([1, 3, 5, 6])('type %i: the reservation goes when its holder unregisters', async (type) => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, type);
    await prOut(unit, NEXUS_A, PrOutAction.Register, { reservationKey: 1n });
    expect((await reservation(unit)).reservation).toBeUndefined();
    const registrantsOnly = type === 5 || type === 6;
    expect(await drain(unit, NEXUS_B)).toEqual(registrantsOnly ? [A.ReservationsReleased] : []);
  });

  it.each([7, 8])('type %i: the reservation stays while any registrant remains', async (type) => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, type);
    await prOut(unit, NEXUS_A, PrOutAction.Register, { reservationKey: 1n });
    expect((await reservation(unit)).reservation).toEqual({ key: 0n, scope: 0, type });
    await prOut(unit, NEXUS_B, PrOutAction.Release, { reservationKey: 2n }, type);
    expect((await reservation(unit)).reservation).toBeUndefined();
  });
});

describe('persistent reservations: CLEAR and PREEMPT', () => {
  it('CLEAR drops everything and tells the others RESERVATIONS PREEMPTED', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, PrType.ExclusiveAccess);
    expect((await prOut(unit, NEXUS_B, PrOutAction.Clear, { reservationKey: 9n })).status).toBe(
      ScsiStatus.ReservationConflict,
    );
    await prOut(unit, NEXUS_A, PrOutAction.Clear, { reservationKey: 1n });
    expect([(await keys(unit)).keys, (await reservation(unit)).reservation]).toEqual([[], undefined]);
    expect(await drain(unit, NEXUS_B)).toEqual([A.ReservationsPreempted]);
    expect(await drain(unit, NEXUS_A)).toEqual([]);
  });

  it('PREEMPT removes the named registrations (iscsi-test-cu prout_preempt_rm_reg) and takes over a reservation', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(
      unit,
      NEXUS_B,
      PrOutAction.Preempt,
      { reservationKey: 2n, serviceActionReservationKey: 1n },
      PrType.ExclusiveAccess,
    );
    // A's next command reports the preemption.
    await check(unit, cdb.persistentReserveIn({ serviceAction: 0 }), K.UnitAttention, A.RegistrationsPreempted);
    expect((await keys(unit)).keys).toEqual([2n]);
    expect((await reservation(unit)).reservation).toBeUndefined();
    // Now A holds an exclusive access reservation and B preempts it.
    await register(unit, NEXUS_A, 1n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, PrType.ExclusiveAccess);
    await prOut(
      unit,
      NEXUS_B,
      PrOutAction.Preempt,
      { reservationKey: 2n, serviceActionReservationKey: 1n },
      PrType.WriteExclusive,
    );
    expect((await reservation(unit, NEXUS_B)).reservation).toEqual({ key: 2n, scope: 0, type: PrType.WriteExclusive });
    await check(unit, cdb.read10({ lba: 0, blocks: 1 }), K.UnitAttention, A.RegistrationsPreempted);
    await good(unit, cdb.read10({ lba: 0, blocks: 1 }));
    const write = await run(unit, cdb.write10({ lba: 0, blocks: 1 }), { dataOut: Buffer.alloc(512) });
    expect(write.status).toBe(ScsiStatus.ReservationConflict);
  });

  it('PREEMPT with key 0 and no all-registrants reservation is an invalid parameter; an unknown key conflicts', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    expect((await prOut(unit, NEXUS_A, PrOutAction.Preempt, { reservationKey: 1n }, 1)).sense).toMatchObject({
      asc: 0x26,
      senseKeySpecific: { inCdb: false, fieldPointer: 8 },
    });
    const unknown = await prOut(
      unit,
      NEXUS_A,
      PrOutAction.Preempt,
      { reservationKey: 1n, serviceActionReservationKey: 77n },
      1,
    );
    expect(unknown.status).toBe(ScsiStatus.ReservationConflict);
  });

  it('PREEMPT with key 0 under an all-registrants reservation removes everyone else', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, PrType.WriteExclusiveAllRegistrants);
    await prOut(unit, NEXUS_A, PrOutAction.Preempt, { reservationKey: 1n }, PrType.ExclusiveAccess);
    expect((await keys(unit)).keys).toEqual([1n]);
    expect((await reservation(unit)).reservation).toEqual({ key: 1n, scope: 0, type: PrType.ExclusiveAccess });
  });

  it('PREEMPT AND ABORT asks the transport to abort the preempted nexuses tasks', async () => {
    const onAbortTasks = vi.fn();
    const { unit } = await readyUnit(64, { onAbortTasks });
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_A, PrOutAction.Reserve, { reservationKey: 1n }, PrType.WriteExclusive);
    await prOut(
      unit,
      NEXUS_B,
      PrOutAction.PreemptAndAbort,
      { reservationKey: 2n, serviceActionReservationKey: 1n },
      PrType.WriteExclusive,
    );
    expect(onAbortTasks).toHaveBeenCalledWith([NEXUS_A]);
  });
});

describe('persistent reservations: PR IN and OUT checks', () => {
  it('answers service actions 0-3 of PERSISTENT RESERVE IN and refuses 4-31', async () => {
    const { unit } = await readyUnit();
    for (let sa = 0; sa < 32; sa++) {
      const outcome = await run(unit, cdb.persistentReserveIn({ serviceAction: sa }));
      expect(outcome.status, `service action ${sa}`).toBe(sa < 4 ? ScsiStatus.Good : ScsiStatus.CheckCondition);
    }
  });

  it('reports its capabilities: every type, no APTPL, ALL_TG_PT or SPEC_I_PT', async () => {
    const { unit } = await readyUnit();
    const caps = decodePrCapabilities(
      await good(unit, cdb.persistentReserveIn({ serviceAction: PrInAction.ReportCapabilities })),
    );
    expect(caps).toEqual({
      rlrC: false,
      crh: false,
      sipC: false,
      atpC: false,
      ptplC: false,
      tmv: true,
      allowCommands: 1,
      ptplA: false,
      typeMask: 0xea01,
    });
  });

  it('reports full status with iSCSI TransportIDs and the holder', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    await register(unit, NEXUS_B, 2n);
    await prOut(unit, NEXUS_B, PrOutAction.Reserve, { reservationKey: 2n }, PrType.WriteExclusive);
    const status = decodePrFullStatus(
      await good(unit, cdb.persistentReserveIn({ serviceAction: PrInAction.ReadFullStatus })),
    );
    expect(status.descriptors.map((d) => [d.key, d.holder, d.type, decodeIscsiTransportId(d.transportId)])).toEqual([
      [1n, false, 0, NEXUS_A.initiatorPortName],
      [2n, true, 1, NEXUS_B.initiatorPortName],
    ]);
  });

  it('refuses a parameter list that is not 24 bytes, unsupported bits and service actions', async () => {
    const { unit } = await readyUnit();
    const short = await run(unit, cdb.persistentReserveOut({ serviceAction: 6, parameterListLength: 20 }), {
      dataOut: Buffer.alloc(20),
    });
    expect([short.sense?.asc, short.pulls]).toEqual([0x1a, 0]);
    for (const [bits, bit] of [
      [{ aptpl: true }, 0],
      [{ allTgPt: true }, 2],
      [{ specIPt: true }, 3],
    ] as const) {
      const outcome = await prOut(unit, NEXUS_A, 6, { serviceActionReservationKey: 1n, ...bits });
      expect(outcome.sense).toMatchObject({
        asc: 0x26,
        senseKeySpecific: { inCdb: false, fieldPointer: 20, bitPointer: bit },
      });
    }
    for (const sa of [7, 8, 9, 0x1f]) {
      expect((await prOut(unit, NEXUS_A, sa, {})).sense).toMatchObject({
        asc: 0x24,
        senseKeySpecific: { fieldPointer: 1 },
      });
    }
    expect((await keys(unit)).keys).toEqual([]);
  });

  it('survives LUN and warm resets, not a cold reset', async () => {
    const { unit } = await readyUnit();
    await register(unit, NEXUS_A, 1n);
    unit.reset('lun-reset');
    await drain(unit, NEXUS_A);
    expect((await keys(unit)).keys).toEqual([1n]);
    unit.reset('target-cold-reset');
    await drain(unit, NEXUS_A);
    expect((await keys(unit)).keys).toEqual([]);
  });
});
