/**
 * The RC, UC and UD opcodes rxe speaks (`rxe_opcode.c`, `ib_pack.h`), with each one's header composition and
 * payload rule. RD opcodes and CNP (0x81) are not here: rxe has no RD QPs and does not send CNPs.
 */

/** Opcode values by rxe name (transport prefix RC 0x00, UC 0x20, UD 0x60). */
export const RoceOpcode = {
  RC_SEND_FIRST: 0x00,
  RC_SEND_MIDDLE: 0x01,
  RC_SEND_LAST: 0x02,
  RC_SEND_LAST_WITH_IMMEDIATE: 0x03,
  RC_SEND_ONLY: 0x04,
  RC_SEND_ONLY_WITH_IMMEDIATE: 0x05,
  RC_RDMA_WRITE_FIRST: 0x06,
  RC_RDMA_WRITE_MIDDLE: 0x07,
  RC_RDMA_WRITE_LAST: 0x08,
  RC_RDMA_WRITE_LAST_WITH_IMMEDIATE: 0x09,
  RC_RDMA_WRITE_ONLY: 0x0a,
  RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE: 0x0b,
  RC_RDMA_READ_REQUEST: 0x0c,
  RC_RDMA_READ_RESPONSE_FIRST: 0x0d,
  RC_RDMA_READ_RESPONSE_MIDDLE: 0x0e,
  RC_RDMA_READ_RESPONSE_LAST: 0x0f,
  RC_RDMA_READ_RESPONSE_ONLY: 0x10,
  RC_ACKNOWLEDGE: 0x11,
  RC_ATOMIC_ACKNOWLEDGE: 0x12,
  RC_COMPARE_SWAP: 0x13,
  RC_FETCH_ADD: 0x14,
  RC_SEND_LAST_WITH_INVALIDATE: 0x16,
  RC_SEND_ONLY_WITH_INVALIDATE: 0x17,
  RC_FLUSH: 0x1c,
  RC_ATOMIC_WRITE: 0x1d,
  UC_SEND_FIRST: 0x20,
  UC_SEND_MIDDLE: 0x21,
  UC_SEND_LAST: 0x22,
  UC_SEND_LAST_WITH_IMMEDIATE: 0x23,
  UC_SEND_ONLY: 0x24,
  UC_SEND_ONLY_WITH_IMMEDIATE: 0x25,
  UC_RDMA_WRITE_FIRST: 0x26,
  UC_RDMA_WRITE_MIDDLE: 0x27,
  UC_RDMA_WRITE_LAST: 0x28,
  UC_RDMA_WRITE_LAST_WITH_IMMEDIATE: 0x29,
  UC_RDMA_WRITE_ONLY: 0x2a,
  UC_RDMA_WRITE_ONLY_WITH_IMMEDIATE: 0x2b,
  UD_SEND_ONLY: 0x64,
  UD_SEND_ONLY_WITH_IMMEDIATE: 0x65,
} as const;

/** The rxe name of an opcode, e.g. `'RC_SEND_ONLY'`. */
export type RoceOpcodeName = keyof typeof RoceOpcode;

/** Transport service an opcode belongs to. */
export type RoceTransport = 'RC' | 'UC' | 'UD';

/** An extension header that can follow the BTH. */
export type ExtHeader = 'RETH' | 'AETH' | 'ImmDt' | 'IETH' | 'DETH' | 'AtomicETH' | 'AtomicAckETH' | 'FETH';

/**
 * How much payload an opcode carries: `first`/`middle` exactly one MTU, `last` 1..MTU, `only` 0..MTU,
 * `none` nothing, `fixed-8` exactly 8 bytes (ATOMIC_WRITE).
 */
export type PayloadRule = 'none' | 'first' | 'middle' | 'last' | 'only' | 'fixed-8';

/** The operation an opcode is part of. */
export type OperationKind =
  'send' | 'write' | 'read-request' | 'read-response' | 'ack' | 'atomic' | 'atomic-ack' | 'flush' | 'atomic-write';

/** Everything the codec and the engine need to know about one opcode. */
export interface OpcodeInfo {
  /** The BTH opcode byte. */
  readonly code: number;
  /** rxe's name without `IB_OPCODE_`, e.g. `'RC_SEND_ONLY'`. */
  readonly name: RoceOpcodeName;
  /** RC, UC or UD. */
  readonly transport: RoceTransport;
  /** The operation this packet belongs to. */
  readonly kind: OperationKind;
  /** Extension headers after the BTH, in wire order. */
  readonly headers: readonly ExtHeader[];
  /** Payload length rule. */
  readonly payload: PayloadRule;
  /** True when the responder takes a receive WQE for this packet (rxe `RXE_RWR_MASK`). */
  readonly consumesRecvWqe: boolean;
  /** True for requests (requester → responder), false for responses (ACKs, read responses). */
  readonly isRequest: boolean;
  /** First packet of a message (rxe `RXE_START_MASK`). */
  readonly start: boolean;
  /** Last packet of a message (rxe `RXE_END_MASK`). */
  readonly end: boolean;
}

interface Operation {
  readonly suffix: string;
  readonly kind: OperationKind;
  readonly headers: readonly ExtHeader[];
  readonly payload: PayloadRule;
  readonly rwr: boolean;
}

// Per operation (low 5 bits). `start`/`end` follow from the payload rule; RC has all, UC only 0x00-0x0B.
const OPERATIONS: ReadonlyMap<number, Operation> = new Map<number, Operation>([
  [0x00, { suffix: 'SEND_FIRST', kind: 'send', headers: [], payload: 'first', rwr: true }],
  [0x01, { suffix: 'SEND_MIDDLE', kind: 'send', headers: [], payload: 'middle', rwr: false }],
  [0x02, { suffix: 'SEND_LAST', kind: 'send', headers: [], payload: 'last', rwr: false }],
  [0x03, { suffix: 'SEND_LAST_WITH_IMMEDIATE', kind: 'send', headers: ['ImmDt'], payload: 'last', rwr: false }],
  [0x04, { suffix: 'SEND_ONLY', kind: 'send', headers: [], payload: 'only', rwr: true }],
  [0x05, { suffix: 'SEND_ONLY_WITH_IMMEDIATE', kind: 'send', headers: ['ImmDt'], payload: 'only', rwr: true }],
  [0x06, { suffix: 'RDMA_WRITE_FIRST', kind: 'write', headers: ['RETH'], payload: 'first', rwr: false }],
  [0x07, { suffix: 'RDMA_WRITE_MIDDLE', kind: 'write', headers: [], payload: 'middle', rwr: false }],
  [0x08, { suffix: 'RDMA_WRITE_LAST', kind: 'write', headers: [], payload: 'last', rwr: false }],
  [0x09, { suffix: 'RDMA_WRITE_LAST_WITH_IMMEDIATE', kind: 'write', headers: ['ImmDt'], payload: 'last', rwr: true }],
  [0x0a, { suffix: 'RDMA_WRITE_ONLY', kind: 'write', headers: ['RETH'], payload: 'only', rwr: false }],
  [
    0x0b,
    {
      suffix: 'RDMA_WRITE_ONLY_WITH_IMMEDIATE',
      kind: 'write',
      headers: ['RETH', 'ImmDt'],
      payload: 'only',
      rwr: true,
    },
  ],
  [0x0c, { suffix: 'RDMA_READ_REQUEST', kind: 'read-request', headers: ['RETH'], payload: 'none', rwr: false }],
  [
    0x0d,
    { suffix: 'RDMA_READ_RESPONSE_FIRST', kind: 'read-response', headers: ['AETH'], payload: 'first', rwr: false },
  ],
  [0x0e, { suffix: 'RDMA_READ_RESPONSE_MIDDLE', kind: 'read-response', headers: [], payload: 'middle', rwr: false }],
  [0x0f, { suffix: 'RDMA_READ_RESPONSE_LAST', kind: 'read-response', headers: ['AETH'], payload: 'last', rwr: false }],
  [0x10, { suffix: 'RDMA_READ_RESPONSE_ONLY', kind: 'read-response', headers: ['AETH'], payload: 'only', rwr: false }],
  [0x11, { suffix: 'ACKNOWLEDGE', kind: 'ack', headers: ['AETH'], payload: 'none', rwr: false }],
  [
    0x12,
    {
      suffix: 'ATOMIC_ACKNOWLEDGE',
      kind: 'atomic-ack',
      headers: ['AETH', 'AtomicAckETH'],
      payload: 'none',
      rwr: false,
    },
  ],
  [0x13, { suffix: 'COMPARE_SWAP', kind: 'atomic', headers: ['AtomicETH'], payload: 'none', rwr: false }],
  [0x14, { suffix: 'FETCH_ADD', kind: 'atomic', headers: ['AtomicETH'], payload: 'none', rwr: false }],
  [0x16, { suffix: 'SEND_LAST_WITH_INVALIDATE', kind: 'send', headers: ['IETH'], payload: 'last', rwr: false }],
  [0x17, { suffix: 'SEND_ONLY_WITH_INVALIDATE', kind: 'send', headers: ['IETH'], payload: 'only', rwr: true }],
  [0x1c, { suffix: 'FLUSH', kind: 'flush', headers: ['FETH', 'RETH'], payload: 'none', rwr: false }],
  [0x1d, { suffix: 'ATOMIC_WRITE', kind: 'atomic-write', headers: ['RETH'], payload: 'fixed-8', rwr: false }],
]);

const RESPONSE_KINDS: ReadonlySet<OperationKind> = new Set(['read-response', 'ack', 'atomic-ack']);

function infoFor(code: number, transport: RoceTransport, op: Operation): OpcodeInfo {
  const name = `${transport}_${op.suffix}` as RoceOpcodeName;
  const single = op.payload === 'only' || op.payload === 'none' || op.payload === 'fixed-8';
  return {
    code,
    name,
    transport,
    kind: op.kind,
    headers: transport === 'UD' ? ['DETH', ...op.headers] : op.headers,
    payload: op.payload,
    consumesRecvWqe: op.rwr,
    isRequest: !RESPONSE_KINDS.has(op.kind),
    start: single || op.payload === 'first',
    end: single || op.payload === 'last',
  };
}

const TABLE: ReadonlyMap<number, OpcodeInfo> = (() => {
  const table = new Map<number, OpcodeInfo>();
  for (const [op, operation] of OPERATIONS) {
    table.set(op, infoFor(op, 'RC', operation));
    if (op <= 0x0b) table.set(0x20 | op, infoFor(0x20 | op, 'UC', operation));
    if (op === 0x04 || op === 0x05) table.set(0x60 | op, infoFor(0x60 | op, 'UD', operation));
  }
  return table;
})();

/** The description of `opcode`, or undefined when rxe does not know it. */
export function opcodeInfo(opcode: number): OpcodeInfo | undefined {
  return TABLE.get(opcode);
}

/** Every opcode this table describes, in numeric order. */
export const ALL_OPCODES: readonly OpcodeInfo[] = [...TABLE.values()].sort((a, b) => a.code - b.code);

/**
 * Checks a payload length against the opcode's rule for a path MTU (rxe `check_length`): undefined when it
 * fits, else the reason (the responder answers NAK invalid request).
 */
export function payloadLengthProblem(info: OpcodeInfo, length: number, mtu: number): string | undefined {
  switch (info.payload) {
    case 'none':
      return length === 0 ? undefined : `${info.name} carries no payload, got ${length} bytes`;
    case 'fixed-8':
      return length === 8 ? undefined : `${info.name} carries exactly 8 bytes, got ${length}`;
    case 'first':
    case 'middle':
      return length === mtu ? undefined : `${info.name} must carry exactly one MTU (${mtu}), got ${length}`;
    case 'last':
      return length >= 1 && length <= mtu ? undefined : `${info.name} must carry 1..${mtu} bytes, got ${length}`;
    case 'only':
      return length <= mtu ? undefined : `${info.name} must carry at most ${mtu} bytes, got ${length}`;
  }
}
