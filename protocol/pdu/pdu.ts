/** The typed PDU union: one member per RFC 7143 opcode, told apart by `kind`. */
import { asyncMessageCodec, type AsyncMessagePdu } from './async-message.js';
import { type HeaderOf, type KindCodec } from './codec.js';
import {
  readyToTransferCodec,
  scsiDataInCodec,
  scsiDataOutCodec,
  type ReadyToTransferPdu,
  type ScsiDataInPdu,
  type ScsiDataOutPdu,
} from './data-transfer.js';
import { loginRequestCodec, loginResponseCodec, type LoginRequestPdu, type LoginResponsePdu } from './login.js';
import { logoutRequestCodec, logoutResponseCodec, type LogoutRequestPdu, type LogoutResponsePdu } from './logout.js';
import { nopInCodec, nopOutCodec, type NopInPdu, type NopOutPdu } from './nop.js';
import { rejectCodec, type RejectPdu } from './reject.js';
import { scsiCommandCodec, type ScsiCommandPdu } from './scsi-command.js';
import { scsiResponseCodec, type ScsiResponsePdu } from './scsi-response.js';
import { snackRequestCodec, type SnackRequestPdu } from './snack.js';
import {
  taskManagementRequestCodec,
  taskManagementResponseCodec,
  type TaskManagementRequestPdu,
  type TaskManagementResponsePdu,
} from './task-management.js';
import { textRequestCodec, textResponseCodec, type TextRequestPdu, type TextResponsePdu } from './text.js';

/** PDUs an initiator sends. */
export type InitiatorPdu =
  | NopOutPdu
  | ScsiCommandPdu
  | TaskManagementRequestPdu
  | LoginRequestPdu
  | TextRequestPdu
  | ScsiDataOutPdu
  | LogoutRequestPdu
  | SnackRequestPdu;

/** PDUs a target sends. */
export type TargetPdu =
  | NopInPdu
  | ScsiResponsePdu
  | TaskManagementResponsePdu
  | LoginResponsePdu
  | TextResponsePdu
  | ScsiDataInPdu
  | LogoutResponsePdu
  | ReadyToTransferPdu
  | AsyncMessagePdu
  | RejectPdu;

/** Every iSCSI PDU. */
export type Pdu = InitiatorPdu | TargetPdu;

/** The `kind` tag of a {@link Pdu}. */
export type PduKind = Pdu['kind'];

/** The member of {@link Pdu} with the given kind. */
export type PduOf<K extends PduKind> = Extract<Pdu, { readonly kind: K }>;

/** A PDU without its data segment: what a header describes. */
export type PduHeader = HeaderOf<Pdu>;

/** Kinds whose PDUs carry a data segment. */
export type PduWithData = Extract<Pdu, { readonly data: readonly Buffer[] }>;

/** The codec of every kind; the mapped type makes leaving one out a compile error. */
export const codecs: { readonly [K in PduKind]: KindCodec<PduOf<K>> } = {
  'nop-out': nopOutCodec,
  'scsi-command': scsiCommandCodec,
  'task-management-request': taskManagementRequestCodec,
  'login-request': loginRequestCodec,
  'text-request': textRequestCodec,
  'scsi-data-out': scsiDataOutCodec,
  'logout-request': logoutRequestCodec,
  'snack-request': snackRequestCodec,
  'nop-in': nopInCodec,
  'scsi-response': scsiResponseCodec,
  'task-management-response': taskManagementResponseCodec,
  'login-response': loginResponseCodec,
  'text-response': textResponseCodec,
  'scsi-data-in': scsiDataInCodec,
  'logout-response': logoutResponseCodec,
  r2t: readyToTransferCodec,
  'async-message': asyncMessageCodec,
  reject: rejectCodec,
};

/** Every PDU kind, in opcode order. */
export const PDU_KINDS: readonly PduKind[] = (Object.keys(codecs) as PduKind[]).sort(
  (a, b) => codecs[a].opcode - codecs[b].opcode,
);

const kindByOpcode = new Map<number, PduKind>(PDU_KINDS.map((kind) => [codecs[kind].opcode, kind]));

/** The kind sent with `opcode`, or undefined for opcodes RFC 7143 does not define. */
export function kindOfOpcode(opcode: number): PduKind | undefined {
  return kindByOpcode.get(opcode);
}

/** The opcode a kind is sent with. */
export function opcodeOfKind(kind: PduKind): number {
  return codecs[kind].opcode;
}

/** True when PDUs of this kind may carry a data segment. */
export function kindCarriesData(kind: PduKind): boolean {
  return codecs[kind].carriesData;
}

/** The data segment of a PDU as a chunk list (empty for kinds that never carry one). */
export function pduData(pdu: Pdu): readonly Buffer[] {
  return 'data' in pdu ? pdu.data : [];
}
