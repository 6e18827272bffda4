/** iSCSI opcodes (RFC 7143 §11.2.1.2), low 6 bits of BHS byte 0. */

/** Opcodes of every PDU RFC 7143 defines. Initiator opcodes are below 0x20, target opcodes at or above. */
export const Opcode = {
  NopOut: 0x00,
  ScsiCommand: 0x01,
  TaskManagementRequest: 0x02,
  LoginRequest: 0x03,
  TextRequest: 0x04,
  ScsiDataOut: 0x05,
  LogoutRequest: 0x06,
  SnackRequest: 0x10,
  NopIn: 0x20,
  ScsiResponse: 0x21,
  TaskManagementResponse: 0x22,
  LoginResponse: 0x23,
  TextResponse: 0x24,
  ScsiDataIn: 0x25,
  LogoutResponse: 0x26,
  ReadyToTransfer: 0x31,
  AsyncMessage: 0x32,
  Reject: 0x3f,
} as const;

/** One of the {@link Opcode} values. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Mask of the opcode in BHS byte 0. */
export const OPCODE_MASK = 0x3f;

/** The immediate-delivery bit in BHS byte 0 (initiator PDUs only). */
export const IMMEDIATE_BIT = 0x40;

/** The final bit in BHS byte 1. */
export const FINAL_BIT = 0x80;

const opcodeNames = new Map<number, string>(Object.entries(Opcode).map(([name, code]) => [code, name]));

/** The RFC name of an opcode, or `Unknown(0xNN)`. */
export function opcodeName(opcode: number): string {
  return opcodeNames.get(opcode) ?? `Unknown(0x${opcode.toString(16).padStart(2, '0')})`;
}

/** True for opcodes an initiator sends (RFC 7143: 0x00-0x1f). */
export function isInitiatorOpcode(opcode: number): boolean {
  return opcode < 0x20;
}
