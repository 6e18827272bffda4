import { describe, expect, it } from 'vitest';
import { ScsiStatusError } from '../../../protocol/scsi/errors.js';
import { checkStatus, statusError } from '../../../protocol/scsi/outcome.js';
import { SenseKey } from '../../../protocol/scsi/sense-codes.js';
import { encodeSense, senseData } from '../../../protocol/scsi/sense.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';

describe('command outcome', () => {
  it('passes GOOD and CONDITION MET', () => {
    expect(statusError(ScsiStatus.Good)).toBeUndefined();
    expect(() => {
      checkStatus(ScsiStatus.ConditionMet);
    }).not.toThrow();
  });

  it('turns CHECK CONDITION into a ScsiStatusError that says why', () => {
    const sense = encodeSense(senseData({ key: SenseKey.IllegalRequest, asc: 0x21, ascq: 0 }));
    const error = statusError(ScsiStatus.CheckCondition, sense);
    expect(error).toBeInstanceOf(ScsiStatusError);
    expect(error?.message).toBe('SCSI status CheckCondition: IllegalRequest LogicalBlockAddressOutOfRange');
    expect(error?.sense).toMatchObject({ key: SenseKey.IllegalRequest, asc: 0x21 });
    expect(error?.code).toBe('ERR_SCSI_STATUS');
  });

  it('keeps statuses without sense and survives unreadable sense', () => {
    expect(() => {
      checkStatus(ScsiStatus.ReservationConflict);
    }).toThrow('SCSI status ReservationConflict');
    const error = statusError(ScsiStatus.CheckCondition, Buffer.from([0x01, 2, 3]));
    expect(error?.sense).toBeUndefined();
    expect(error?.message).toContain('unreadable sense data');
  });
});
