import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAllCommands,
  decodeOneCommand,
  encodeAllCommands,
  encodeOneCommand,
} from '../../../../protocol/scsi/data/supported-opcodes.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const arbTimeouts = fc.record({
  commandSpecific: fc.integer({ min: 0, max: 255 }),
  nominal: fc.integer({ min: 0, max: 0xffff_ffff }),
  recommended: fc.integer({ min: 0, max: 0xffff_ffff }),
});

const arbAll = fc.array(
  fc.record(
    {
      opcode: fc.integer({ min: 0, max: 255 }),
      serviceAction: fc.integer({ min: 0, max: 0xffff }),
      serviceActionValid: fc.boolean(),
      cdbLength: fc.integer({ min: 0, max: 0xffff }),
      timeouts: arbTimeouts,
    },
    { requiredKeys: ['opcode', 'serviceAction', 'serviceActionValid', 'cdbLength'] },
  ),
  { maxLength: 12 },
);

const arbOne = fc.record(
  {
    support: fc.integer({ min: 0, max: 7 }),
    cdbUsage: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
    timeouts: arbTimeouts,
  },
  { requiredKeys: ['support', 'cdbUsage'] },
);

describe('REPORT SUPPORTED OPERATION CODES data', () => {
  it('round-trips the all-commands format, with and without timeouts descriptors', () => {
    fc.assert(
      fc.property(arbAll, (descriptors) => {
        const bytes = encodeAllCommands(descriptors);
        expect(decodeAllCommands(bytes)).toEqual({ dataLength: bytes.length - 4, descriptors });
      }),
    );
  });

  it('round-trips the one-command format', () => {
    fc.assert(
      fc.property(arbOne, (one) => {
        expect(decodeOneCommand(encodeOneCommand(one))).toEqual(one);
      }),
    );
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodeAllCommands, arbAll.map(encodeAllCommands));
    expectOnlyDecodeErrors(decodeOneCommand, arbOne.map(encodeOneCommand));
  });
});
