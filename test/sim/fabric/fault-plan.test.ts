/**
 * Fault plans are plain JSON: valid ones survive a round trip through JSON; invalid ones fail with
 * ERR_FABRIC_FAULT_PLAN and nothing else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FabricError } from '../../../sim/fabric/errors.js';
import { WC_STATUSES, parseFaultPlan } from '../../../sim/fabric/fault-plan.js';
import type { FaultPlan, FaultRule } from '../../../sim/fabric/fault-plan.js';

const opcode = fc.constantFrom('SEND' as const, 'SEND_WITH_INV' as const, 'RDMA_WRITE' as const, 'RDMA_READ' as const);
const time = fc.double({ min: 0, max: 1e6, noNaN: true });
const scope = { connection: fc.integer({ min: 1, max: 100 }), host: fc.constantFrom('10.0.0.1', '10.0.0.2') };
const errorStatus = fc.constantFrom(...WC_STATUSES.filter((s) => s !== 'SUCCESS' && s !== 'WR_FLUSH_ERR'));

const rule: fc.Arbitrary<FaultRule> = fc.oneof(
  fc.record(
    {
      kind: fc.constant('delay' as const),
      ...scope,
      opcodes: fc.array(fc.oneof(opcode, fc.constant('CM' as const)), { maxLength: 5 }),
      extraMs: time,
      jitterMs: time,
      probability: fc.double({ min: 0, max: 1, noNaN: true }),
    },
    { requiredKeys: ['kind'] },
  ),
  fc.record({ kind: fc.constant('drop-connection' as const), atMs: time }),
  fc.record(
    { kind: fc.constant('drop-connection' as const), atOperation: fc.integer({ min: 1, max: 1000 }), opcode, ...scope },
    { requiredKeys: ['kind', 'atOperation'] },
  ),
  fc.record(
    {
      kind: fc.constant('qp-error' as const),
      opcode,
      nth: fc.integer({ min: 1, max: 1000 }),
      status: errorStatus,
      ...scope,
    },
    { requiredKeys: ['kind', 'opcode', 'nth', 'status'] },
  ),
  fc.record(
    { kind: fc.constant('rnr-storm' as const), fromMs: time, durationMs: time, ...scope },
    { requiredKeys: ['kind', 'fromMs', 'durationMs'] },
  ),
  fc.record(
    { kind: fc.constant('stop-answering' as const), host: scope.host, atMs: time, durationMs: time },
    { requiredKeys: ['kind', 'host'] },
  ),
);

function planError(input: unknown): unknown {
  try {
    parseFaultPlan(input);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('fault plans', () => {
  it('valid plans survive a JSON round trip unchanged', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 8 }), (rules) => {
        const plan: FaultPlan = { rules };
        expect(parseFaultPlan(JSON.parse(JSON.stringify(plan)))).toEqual(plan);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['an unknown kind', { rules: [{ kind: 'meteor' }] }],
    ['a negative time', { rules: [{ kind: 'rnr-storm', fromMs: -1, durationMs: 1 }] }],
    ['both atMs and atOperation', { rules: [{ kind: 'drop-connection', atMs: 1, atOperation: 2 }] }],
    ['neither atMs nor atOperation', { rules: [{ kind: 'drop-connection' }] }],
    ['a zeroth operation', { rules: [{ kind: 'qp-error', opcode: 'SEND', nth: 0, status: 'REM_OP_ERR' }] }],
    ['a SUCCESS "error"', { rules: [{ kind: 'qp-error', opcode: 'SEND', nth: 1, status: 'SUCCESS' }] }],
    ['an unknown field', { rules: [{ kind: 'stop-answering', host: 'x', when: 3 }] }],
    ['a probability above 1', { rules: [{ kind: 'delay', probability: 1.5 }] }],
    ['no rules list', {}],
    ['not an object', 'drop everything'],
  ])('rejects %s', (_label, input) => {
    const error = planError(input);
    expect(error).toBeInstanceOf(FabricError);
    expect((error as FabricError).code).toBe('ERR_FABRIC_FAULT_PLAN');
  });

  it('random JSON is either a plan or ERR_FABRIC_FAULT_PLAN', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.record({ rules: fc.array(fc.jsonValue(), { maxLength: 3 }) })),
        (input) => {
          const error = planError(input);
          if (error !== undefined) expect((error as FabricError).code).toBe('ERR_FABRIC_FAULT_PLAN');
        },
      ),
      { numRuns: 300 },
    );
  });
});
