import { describe, expect, it } from 'vitest';
import { RejectReason, RESERVED_TAG } from '../../../protocol/pdu/index.js';
import { decodeSense } from '../../../protocol/scsi/sense.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';
import type { TargetSession } from '../../../protocol/session/target-session.js';
import { actionsOf, cdb10, command, executed, FIRST_STATSN, makeSession, sentOf } from './target-harness.js';

const READ10 = 0x28;
const WRITE10 = 0x2a;
const COMPARE_AND_WRITE = 0x89;
const BLOCK = 512;

/** Runs one command to its response; `produce` is the data-in the device returns. */
function run(
  session: TargetSession,
  pdu: Parameters<typeof command>[0],
  dataIn: number,
  status: number = ScsiStatus.Good,
) {
  const start = session.receive(1, command(pdu));
  const request = executed(start)[0];
  if (request === undefined) return { start, request, put: [], response: sentOf(start, 'scsi-response')[0] };
  const done = session.commandExecuted(request.taskId, {
    status,
    ...(dataIn > 0 ? { dataIn: [Buffer.alloc(dataIn, 0xab)] } : {}),
  });
  const put = actionsOf(done, 'put-data');
  const after = put.length > 0 ? session.dataDelivered(request.taskId) : done;
  return { start, request, put, response: sentOf(after, 'scsi-response')[0], after };
}

describe('target session: SCSI commands', () => {
  it('hands the device the command with its nexus and direction, then sends data-in and status in order', () => {
    const { session } = makeSession();
    const r = run(
      session,
      { cmdSN: 1, itt: 0x10, read: true, expectedDataTransferLength: BLOCK, cdb: cdb10(READ10, 1) },
      BLOCK,
    );
    expect(r.request?.command).toMatchObject({ lun: 0, direction: 'read', expectedDataTransferLength: 0 });
    expect(r.request?.command.nexus).toEqual(session.nexus);
    expect(r.put.map((p) => p.data.reduce((n, b) => n + b.length, 0))).toEqual([BLOCK]);
    expect(r.response).toMatchObject({ status: ScsiStatus.Good, itt: 0x10, statSN: FIRST_STATSN, residualCount: 0 });
    expect(r.after?.some((a) => a.type === 'task-done' && a.itt === 0x10)).toBe(true);
  });

  it('names the I_T nexus as RFC 7143 §10.1.1 does (initiator,i,0xISID / target,t,0xTPGT)', () => {
    const { session } = makeSession();
    expect(session.nexus).toEqual({
      initiatorPortName: 'iqn.2024-01.test:initiator,i,0x801234560001',
      targetPortName: 'iqn.2024-01.test:target,t,0x0001',
    });
  });

  describe('residuals (RFC 7143 §11.4.5, libiscsi iSCSIResiduals)', () => {
    it('read with EDTL 0: overflow of the whole block, nothing sent', () => {
      const { session } = makeSession();
      const r = run(
        session,
        { cmdSN: 1, itt: 1, read: true, expectedDataTransferLength: 0, cdb: cdb10(READ10, 1) },
        BLOCK,
      );
      expect(r.put).toEqual([]);
      expect(r.response).toMatchObject({ residualOverflow: true, residualUnderflow: false, residualCount: BLOCK });
    });

    it('read with EDTL 200: 200 bytes sent, overflow 312', () => {
      const { session } = makeSession();
      const r = run(
        session,
        { cmdSN: 1, itt: 1, read: true, expectedDataTransferLength: 200, cdb: cdb10(READ10, 1) },
        BLOCK,
      );
      expect(r.put[0]?.data.reduce((n, b) => n + b.length, 0)).toBe(200);
      expect(r.response).toMatchObject({ residualOverflow: true, residualCount: BLOCK - 200 });
    });

    it('read with EDTL 10000: the block sent, underflow 9488', () => {
      const { session } = makeSession();
      const r = run(
        session,
        { cmdSN: 1, itt: 1, read: true, expectedDataTransferLength: 10000, cdb: cdb10(READ10, 1) },
        BLOCK,
      );
      expect(r.response).toMatchObject({
        residualUnderflow: true,
        residualOverflow: false,
        residualCount: 10000 - BLOCK,
      });
    });

    it('write of 2 blocks with EDTL of 1: carried out on 1 block, overflow 512', () => {
      const { session } = makeSession();
      const r = run(
        session,
        { cmdSN: 1, itt: 1, write: true, expectedDataTransferLength: BLOCK, cdb: cdb10(WRITE10, 2) },
        0,
      );
      expect(r.request?.command.cdb.readUInt16BE(7)).toBe(1);
      expect(r.request?.command.expectedDataTransferLength).toBe(BLOCK);
      expect(r.response).toMatchObject({ status: ScsiStatus.Good, residualOverflow: true, residualCount: BLOCK });
    });

    it('write of 1 block with EDTL 0: carried out on no block, overflow 512', () => {
      const { session } = makeSession();
      const r = run(
        session,
        { cmdSN: 1, itt: 1, write: true, expectedDataTransferLength: 0, cdb: cdb10(WRITE10, 1) },
        0,
      );
      expect(r.request?.command.cdb.readUInt16BE(7)).toBe(0);
      expect(r.response).toMatchObject({ residualOverflow: true, residualCount: BLOCK });
    });

    it('write with EDTL 200 (not whole blocks): the CDB is left for the device to refuse, overflow 312', () => {
      const { session } = makeSession();
      const cdb = cdb10(WRITE10, 1);
      const r = run(
        session,
        { cmdSN: 1, itt: 1, write: true, expectedDataTransferLength: 200, cdb },
        0,
        ScsiStatus.CheckCondition,
      );
      expect(r.request?.command.cdb).toEqual(cdb);
      expect(r.request?.command.expectedDataTransferLength).toBe(200);
      expect(r.response).toMatchObject({ residualOverflow: true, residualCount: BLOCK - 200 });
    });

    it('write of 1 block with EDTL 10000: underflow 9488', () => {
      const { session } = makeSession();
      const r = run(
        session,
        { cmdSN: 1, itt: 1, write: true, expectedDataTransferLength: 10000, cdb: cdb10(WRITE10, 1) },
        0,
      );
      expect(r.request?.command.cdb.readUInt16BE(7)).toBe(1);
      expect(r.response).toMatchObject({ residualUnderflow: true, residualCount: 10000 - BLOCK });
    });

    it('a READ flagged as a write sends no data-in (there is no read buffer)', () => {
      const { session } = makeSession();
      const r = run(
        session,
        { cmdSN: 1, itt: 1, write: true, expectedDataTransferLength: BLOCK, cdb: cdb10(READ10, 1) },
        BLOCK,
      );
      expect(r.put).toEqual([]);
      expect(r.request?.command.direction).toBe('write');
      expect(r.response).toMatchObject({ status: ScsiStatus.Good, residualUnderflow: true, residualCount: BLOCK });
    });

    it('a bidirectional command reports the read residual in the bidirectional fields', () => {
      const { session } = makeSession();
      const r = run(
        session,
        {
          cmdSN: 1,
          itt: 1,
          read: true,
          write: true,
          expectedDataTransferLength: 0,
          bidirectionalReadLength: 100,
          cdb: cdb10(READ10, 1),
        },
        BLOCK,
      );
      expect(r.request?.command.direction).toBe('bidi');
      expect(r.response).toMatchObject({
        bidirectionalReadResidualOverflow: true,
        bidirectionalReadResidualCount: BLOCK - 100,
        residualOverflow: false,
        residualCount: 0,
      });
    });
  });

  it('refuses a COMPARE AND WRITE whose EDTL disagrees with its length without running it', () => {
    const { session } = makeSession();
    const cdb = Buffer.alloc(16);
    cdb[0] = COMPARE_AND_WRITE;
    cdb[13] = 0; // 256 blocks wrapped to 0 in the one-byte field, while the initiator sends 2 × 256 blocks
    const actions = session.receive(
      1,
      command({ cmdSN: 1, itt: 1, write: true, expectedDataTransferLength: 2 * 256 * BLOCK, cdb }),
    );
    expect(executed(actions)).toEqual([]);
    const response = sentOf(actions, 'scsi-response')[0];
    expect(response?.status).toBe(ScsiStatus.CheckCondition);
    const sense = decodeSense(Buffer.concat(response?.data ?? []).subarray(2));
    expect([sense.key, sense.asc, sense.ascq]).toEqual([0x5, 0x24, 0x00]);
  });

  it('puts sense data in the data segment after its 2-byte length', () => {
    const { session } = makeSession();
    const sense = Buffer.from([0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0]);
    const start = session.receive(1, command({ cmdSN: 1, itt: 1 }));
    const done = session.commandExecuted(executed(start)[0]!.taskId, { status: ScsiStatus.CheckCondition, sense });
    const data = Buffer.concat(sentOf(done, 'scsi-response')[0]?.data ?? []);
    expect(data.readUInt16BE(0)).toBe(sense.length);
    expect(data.subarray(2)).toEqual(sense);
  });

  it('rejects a live ITT reused (task in progress), and accepts it again once the task is over', () => {
    const { session } = makeSession();
    const first = executed(session.receive(1, command({ cmdSN: 1, itt: 5 })))[0]!;
    const reused = session.receive(1, command({ cmdSN: 2, itt: 5 }));
    expect(sentOf(reused, 'reject').map((r) => r.reason)).toEqual([RejectReason.TaskInProgress]);
    expect(session.expCmdSN).toBe(3); // a rejected command still used its CmdSN
    session.commandExecuted(first.taskId, { status: ScsiStatus.Good });
    expect(executed(session.receive(1, command({ cmdSN: 3, itt: 5 })))).toHaveLength(1);
  });

  it('rejects ITT 0xffffffff as an invalid field, returning the rejected header', () => {
    const { session } = makeSession();
    const actions = session.receive(1, command({ cmdSN: 1, itt: RESERVED_TAG }));
    const reject = sentOf(actions, 'reject')[0];
    expect(reject?.reason).toBe(RejectReason.InvalidPduField);
    expect(reject?.data[0]?.readUInt32BE(16)).toBe(RESERVED_TAG);
    expect((reject?.data[0]?.[0] ?? 0) & 0x3f).toBe(0x01);
  });

  it('bounds immediate commands: beyond the limit they get Reject "immediate command reject"', () => {
    const { session } = makeSession({ maxImmediateTasks: 2 });
    session.receive(1, command({ cmdSN: 1, itt: 1, immediate: true }));
    session.receive(1, command({ cmdSN: 1, itt: 2, immediate: true }));
    const third = session.receive(1, command({ cmdSN: 1, itt: 3, immediate: true }));
    expect(sentOf(third, 'reject').map((r) => r.reason)).toEqual([RejectReason.ImmediateCommandReject]);
  });

  it('ends a command whose data-out failed with ABORTED COMMAND, DATA PHASE ERROR, and keeps the connection', () => {
    const { session } = makeSession();
    const request = executed(
      session.receive(
        1,
        command({ cmdSN: 1, itt: 9, write: true, expectedDataTransferLength: BLOCK, cdb: cdb10(WRITE10, 1) }),
      ),
    )[0]!;
    const actions = session.commandFailed(request.taskId, new Error('DataSN out of order'));
    const response = sentOf(actions, 'scsi-response')[0];
    expect(response?.status).toBe(ScsiStatus.CheckCondition);
    const sense = decodeSense(Buffer.concat(response?.data ?? []).subarray(2));
    expect([sense.key, sense.asc]).toEqual([0xb, 0x4b]);
    expect(actions.some((a) => a.type === 'close-connection')).toBe(false);
  });

  it('drops the connection when data-in could not be moved', () => {
    const { session } = makeSession();
    const request = executed(
      session.receive(
        1,
        command({ cmdSN: 1, itt: 9, read: true, expectedDataTransferLength: BLOCK, cdb: cdb10(READ10, 1) }),
      ),
    )[0]!;
    session.commandExecuted(request.taskId, { status: ScsiStatus.Good, dataIn: [Buffer.alloc(BLOCK)] });
    const actions = session.dataFailed(request.taskId, new Error('socket reset'));
    expect(actionsOf(actions, 'close-connection').map((a) => a.reason.code)).toEqual(['ERR_TARGET_SESSION_TRANSPORT']);
    expect(actionsOf(actions, 'session-ended')).toHaveLength(1);
  });

  it('rejects SCSI commands in a discovery session (protocol error)', () => {
    const { session } = makeSession({ sessionType: 'Discovery', targetName: undefined });
    const actions = session.receive(1, command({ cmdSN: 1, itt: 1 }));
    expect(executed(actions)).toEqual([]);
    expect(sentOf(actions, 'reject').map((r) => r.reason)).toEqual([RejectReason.ProtocolError]);
  });
});
