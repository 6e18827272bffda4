/**
 * Which PDU kinds each end of a connection may hand to `sendControl`, and which kinds come from an initiator.
 * The same rules hold over TCP and iSER: data PDUs (Data-In, Data-Out, R2T) and the SCSI Command belong to the
 * transport's own methods, never to `sendControl`.
 */
import type { Pdu } from '../../protocol/pdu/index.js';

/** Which end of an iSCSI connection. */
export type ConnectionRole = 'initiator' | 'target';

/** Kinds each role may pass to sendControl. */
export const CONTROL_KINDS: Readonly<Record<ConnectionRole, ReadonlySet<Pdu['kind']>>> = {
  initiator: new Set([
    'nop-out',
    'task-management-request',
    'login-request',
    'text-request',
    'logout-request',
    'snack-request',
  ]),
  target: new Set([
    'nop-in',
    'scsi-response',
    'task-management-response',
    'login-response',
    'text-response',
    'logout-response',
    'async-message',
    'reject',
  ]),
};

/** Kinds only an initiator sends (so only a target may receive them). */
export const INITIATOR_KINDS: ReadonlySet<Pdu['kind']> = new Set([
  ...CONTROL_KINDS.initiator,
  'scsi-command',
  'scsi-data-out',
]);
