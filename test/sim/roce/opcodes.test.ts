import { describe, expect, it } from 'vitest';
import {
  ALL_OPCODES,
  opcodeInfo,
  payloadLengthProblem,
  RoceOpcode,
  type OpcodeInfo,
} from '../../../sim/roce/opcodes.js';

const info = (code: number): OpcodeInfo => {
  const found = opcodeInfo(code);
  if (found === undefined) throw new Error(`no opcode 0x${code.toString(16)}`);
  return found;
};

describe('opcode table', () => {
  it('names every opcode as rxe does and agrees with RoceOpcode', () => {
    for (const [name, code] of Object.entries(RoceOpcode)) expect(info(code).name).toBe(name);
    expect(ALL_OPCODES.map((o) => o.code)).toEqual(Object.values(RoceOpcode).sort((a, b) => a - b));
  });

  it('composes headers as rxe_opcode.c (roce-rxe.md §3.3)', () => {
    const headers = (code: number): readonly string[] => info(code).headers;
    expect(headers(RoceOpcode.RC_SEND_ONLY)).toEqual([]);
    expect(headers(RoceOpcode.RC_SEND_LAST_WITH_IMMEDIATE)).toEqual(['ImmDt']);
    expect(headers(RoceOpcode.RC_RDMA_WRITE_FIRST)).toEqual(['RETH']);
    expect(headers(RoceOpcode.RC_RDMA_WRITE_MIDDLE)).toEqual([]);
    expect(headers(RoceOpcode.RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE)).toEqual(['RETH', 'ImmDt']);
    expect(headers(RoceOpcode.RC_RDMA_READ_REQUEST)).toEqual(['RETH']);
    expect(headers(RoceOpcode.RC_RDMA_READ_RESPONSE_FIRST)).toEqual(['AETH']);
    expect(headers(RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE)).toEqual([]);
    expect(headers(RoceOpcode.RC_RDMA_READ_RESPONSE_LAST)).toEqual(['AETH']);
    expect(headers(RoceOpcode.RC_ACKNOWLEDGE)).toEqual(['AETH']);
    expect(headers(RoceOpcode.RC_ATOMIC_ACKNOWLEDGE)).toEqual(['AETH', 'AtomicAckETH']);
    expect(headers(RoceOpcode.RC_COMPARE_SWAP)).toEqual(['AtomicETH']);
    expect(headers(RoceOpcode.RC_SEND_ONLY_WITH_INVALIDATE)).toEqual(['IETH']);
    expect(headers(RoceOpcode.RC_FLUSH)).toEqual(['FETH', 'RETH']);
    expect(headers(RoceOpcode.RC_ATOMIC_WRITE)).toEqual(['RETH']);
    expect(headers(RoceOpcode.UC_RDMA_WRITE_ONLY)).toEqual(['RETH']);
    expect(headers(RoceOpcode.UD_SEND_ONLY)).toEqual(['DETH']);
    expect(headers(RoceOpcode.UD_SEND_ONLY_WITH_IMMEDIATE)).toEqual(['DETH', 'ImmDt']);
  });

  it('marks the packets that take a receive WQE (RXE_RWR_MASK)', () => {
    const rwr = ALL_OPCODES.filter((o) => o.consumesRecvWqe).map((o) => o.name);
    expect(rwr).toEqual([
      'RC_SEND_FIRST',
      'RC_SEND_ONLY',
      'RC_SEND_ONLY_WITH_IMMEDIATE',
      'RC_RDMA_WRITE_LAST_WITH_IMMEDIATE',
      'RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE',
      'RC_SEND_ONLY_WITH_INVALIDATE',
      'UC_SEND_FIRST',
      'UC_SEND_ONLY',
      'UC_SEND_ONLY_WITH_IMMEDIATE',
      'UC_RDMA_WRITE_LAST_WITH_IMMEDIATE',
      'UC_RDMA_WRITE_ONLY_WITH_IMMEDIATE',
      'UD_SEND_ONLY',
      'UD_SEND_ONLY_WITH_IMMEDIATE',
    ]);
  });

  it('knows requests from responses, and first/last packets', () => {
    expect(info(RoceOpcode.RC_ACKNOWLEDGE).isRequest).toBe(false);
    expect(info(RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE).isRequest).toBe(false);
    expect(info(RoceOpcode.RC_RDMA_READ_REQUEST).isRequest).toBe(true);
    const middle = info(RoceOpcode.RC_SEND_MIDDLE);
    expect([middle.start, middle.end]).toEqual([false, false]);
    const only = info(RoceOpcode.RC_RDMA_WRITE_ONLY);
    expect([only.start, only.end]).toEqual([true, true]);
    expect(info(RoceOpcode.RC_SEND_FIRST).start).toBe(true);
    expect(info(RoceOpcode.RC_SEND_LAST_WITH_INVALIDATE).end).toBe(true);
  });

  it('has no RD opcodes, no CNP, and no gaps rxe fills', () => {
    for (const code of [0x15, 0x18, 0x2c, 0x40, 0x63, 0x66, 0x81, 0xff]) expect(opcodeInfo(code)).toBeUndefined();
    expect(ALL_OPCODES.length).toBe(39);
  });

  it('applies the MTU payload rules of rxe check_length', () => {
    const mtu = 1024;
    const ok = (code: number, n: number): boolean => payloadLengthProblem(info(code), n, mtu) === undefined;
    expect(ok(RoceOpcode.RC_SEND_FIRST, 1024)).toBe(true);
    expect(ok(RoceOpcode.RC_SEND_FIRST, 1023)).toBe(false);
    expect(ok(RoceOpcode.RC_RDMA_WRITE_MIDDLE, 1025)).toBe(false);
    expect(ok(RoceOpcode.RC_SEND_LAST, 0)).toBe(false);
    expect(ok(RoceOpcode.RC_SEND_LAST, 1)).toBe(true);
    expect(ok(RoceOpcode.RC_SEND_LAST, 1025)).toBe(false);
    expect(ok(RoceOpcode.RC_SEND_ONLY, 0)).toBe(true);
    expect(ok(RoceOpcode.RC_SEND_ONLY, 1024)).toBe(true);
    expect(ok(RoceOpcode.RC_SEND_ONLY, 1025)).toBe(false);
    expect(ok(RoceOpcode.RC_RDMA_READ_RESPONSE_ONLY, 0)).toBe(true);
    expect(ok(RoceOpcode.RC_ACKNOWLEDGE, 1)).toBe(false);
    expect(ok(RoceOpcode.RC_ATOMIC_WRITE, 8)).toBe(true);
    expect(ok(RoceOpcode.RC_ATOMIC_WRITE, 4)).toBe(false);
  });
});
