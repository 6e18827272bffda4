import { describe, expect, it } from 'vitest';
import { AdditionalSense as A } from '../../../../protocol/scsi/sense-codes.js';
import { UnitAttentions } from '../../../../protocol/scsi/target/unit-attention.js';

describe('UnitAttentions', () => {
  it('queues POWER ON once per nexus and reports each condition once, oldest first', () => {
    const ua = new UnitAttentions();
    ua.arrive('a');
    ua.arrive('a');
    ua.raise(A.ModeParametersChanged, { all: true });
    ua.raise(A.ModeParametersChanged, { all: true }); // duplicates collapse
    ua.raise(A.CapacityDataHasChanged, { all: true });
    expect(ua.peek('a')).toEqual([
      A.PowerOnResetOrBusDeviceResetOccurred,
      A.ModeParametersChanged,
      A.CapacityDataHasChanged,
    ]);
    expect([ua.take('a'), ua.take('a'), ua.take('a'), ua.take('a')]).toEqual([
      A.PowerOnResetOrBusDeviceResetOccurred,
      A.ModeParametersChanged,
      A.CapacityDataHasChanged,
      undefined,
    ]);
  });

  it('lets a reset replace whatever was pending, and skips nexuses it has never seen', () => {
    const ua = new UnitAttentions();
    ua.arrive('a');
    ua.raise(A.ReservationsPreempted, { only: ['a', 'never-seen'] });
    ua.raise(A.BusDeviceResetFunctionOccurred, { all: true });
    expect(ua.peek('a')).toEqual([A.BusDeviceResetFunctionOccurred]);
    expect(ua.peek('never-seen')).toEqual([]);
  });

  it('honours except, clears by code, and bounds the queue', () => {
    const ua = new UnitAttentions();
    ua.arrive('a');
    ua.arrive('b');
    ua.take('a');
    ua.take('b');
    ua.raise(A.ModeParametersChanged, { all: true, except: 'a' });
    expect([ua.peek('a'), ua.peek('b')]).toEqual([[], [A.ModeParametersChanged]]);
    ua.clear('b', A.ModeParametersChanged);
    expect(ua.peek('b')).toEqual([]);
    for (let i = 0; i < 20; i++) ua.raise(0x2a00 + i, { only: ['b'] });
    expect(ua.peek('b').length).toBeLessThanOrEqual(8);
    expect(ua.peek('b').at(-1)).toBe(0x2a00 + 19);
  });
});
