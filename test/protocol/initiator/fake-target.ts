/**
 * A scripted iSCSI target for the initiator's RxJS tests: a connector that hands out in-memory Datamover pairs,
 * the real target login machine on the far end, then a small full-feature loop over a real SBC logical unit
 * (ScsiTargetDevice + MemoryBackend). Faults are scripted per command: drop the connection before or after
 * executing it, or hold it unanswered.
 */
import type { SchedulerLike } from 'rxjs';
import { MemoryBackend } from '../../../backends/memory.js';
import type { DatamoverConnection, DatamoverConnector, TargetTaskRef } from '../../../protocol/datamover.js';
import { TargetLogin, type TargetLoginPolicy } from '../../../protocol/login/target-login.js';
import { RESERVED_TAG } from '../../../protocol/pdu/constants.js';
import type { Pdu, ScsiCommandPdu, TargetPdu } from '../../../protocol/pdu/index.js';
import { formatIsid } from '../../../protocol/pdu/isid.js';
import { lunToNumber } from '../../../protocol/pdu/lun.js';
import { serialAdd } from '../../../protocol/pdu/serial.js';
import { ScsiTargetDevice } from '../../../protocol/scsi/target/device.js';
import { LogicalUnit } from '../../../protocol/scsi/target/logical-unit.js';
import { totalLength } from '../../../protocol/session/data-sequencing-chunks.js';
import { encodeText } from '../../../protocol/text/codec.js';
import type { NegotiationConfig } from '../../../protocol/text/config.js';
import type { NegotiatedParams } from '../../../protocol/text/params.js';
import { createDatamoverPair, type MemoryDatamoverPair } from '../../support/datamover-pair.js';

/** The target's name. */
export const TARGET_NAME = 'iqn.2024-01.test.iser:target';

const TARGET_PORT = `${TARGET_NAME},t,0x1`;

/** What to do with one command. */
export type CommandFault = 'execute' | 'drop-before' | 'drop-after' | 'hold';

/** Options of a {@link FakeTarget}. */
export interface FakeTargetOptions {
  readonly scheduler: SchedulerLike;
  readonly blocks?: number;
  readonly blockSize?: number;
  /** Commands the initiator may queue (MaxCmdSN = ExpCmdSN + window - 1). */
  readonly window?: number;
  /** The target's operational preferences. */
  readonly negotiation?: NegotiationConfig;
  /** Require one-way CHAP with this name and secret. */
  readonly chap?: { readonly user: string; readonly secret: string };
}

/** A command the target saw, with the connection number it came on. */
export interface SeenCommand {
  readonly connection: number;
  readonly pdu: ScsiCommandPdu;
}

/** One full-feature connection's numbers. */
class FakeConnection {
  statSN = 1000;
  expCmdSN = 0;
  readonly held = new Map<number, ScsiCommandPdu>();
  closed = false;

  constructor(
    readonly index: number,
    readonly pair: MemoryDatamoverPair,
    readonly window: number,
  ) {}

  get end(): DatamoverConnection {
    return this.pair.target;
  }

  get maxCmdSN(): number {
    return serialAdd(this.expCmdSN, this.window - 1);
  }

  /** StatSN/ExpCmdSN/MaxCmdSN for a response that consumes a StatSN. */
  status(): { statSN: number; expCmdSN: number; maxCmdSN: number } {
    const statSN = this.statSN;
    this.statSN = serialAdd(statSN, 1);
    return { statSN, expCmdSN: this.expCmdSN, maxCmdSN: this.maxCmdSN };
  }

  send(pdu: TargetPdu): void {
    if (this.closed) return;
    try {
      this.end.sendControl(pdu);
    } catch {
      this.closed = true;
    }
  }
}

/** A scripted target behind a connector. */
export class FakeTarget {
  readonly device = new ScsiTargetDevice();
  readonly backend: MemoryBackend;
  readonly connector: DatamoverConnector;
  readonly commands: SeenCommand[] = [];
  readonly pdus: Pdu[] = [];
  /** Decides the fate of each command (default: execute). */
  onCommand: (command: ScsiCommandPdu, index: number) => CommandFault = () => 'execute';
  /** Connection attempts to refuse before accepting again. */
  refuseConnections = 0;
  /** Logins (successful) so far. */
  logins = 0;
  readonly #options: FakeTargetOptions;
  readonly #connections: FakeConnection[] = [];
  #tsih = 0;
  readonly #nexuses = new Set<string>();

  constructor(options: FakeTargetOptions) {
    this.#options = options;
    this.backend = new MemoryBackend(options.blocks ?? 256, { blockSize: options.blockSize ?? 512 });
    this.device.attach(0, new LogicalUnit({ backend: this.backend }));
    this.connector = {
      kind: 'tcp',
      connect: () => {
        if (this.refuseConnections > 0) {
          this.refuseConnections--;
          return Promise.reject(new Error('connect ECONNREFUSED (scripted)'));
        }
        const pair = createDatamoverPair({ scheduler: options.scheduler });
        const connection = new FakeConnection(this.#connections.length, pair, options.window ?? 16);
        this.#connections.push(connection);
        this.#serve(connection);
        return Promise.resolve(pair.initiator);
      },
    };
  }

  /** Connections opened so far. */
  get connectionCount(): number {
    return this.#connections.length;
  }

  /** Breaks the current connection as a network failure would. */
  sever(): void {
    const current = this.#connections.at(-1);
    if (current === undefined || current.closed) return;
    current.closed = true;
    current.pair.sever();
  }

  /** Sends a PDU on the current connection (for scripted async messages); `numbers` fills StatSN & co. */
  sendRaw(build: (numbers: { statSN: number; expCmdSN: number; maxCmdSN: number }) => TargetPdu): void {
    const current = this.#connections.at(-1);
    if (current !== undefined) current.send(build(current.status()));
  }

  /** Bytes of the LUN now. */
  async contents(lba: number, blocks: number): Promise<Buffer> {
    return Buffer.concat(await this.backend.read(lba, blocks));
  }

  #policy(): TargetLoginPolicy {
    return {
      lookupTarget: (name) =>
        name === TARGET_NAME ? { kind: 'found', negotiation: this.#options.negotiation ?? {} } : { kind: 'not-found' },
      discovery: () => ({ allowed: true }),
      isInitiatorAllowed: () => true,
      authentication: () => ({ methods: this.#options.chap === undefined ? ['None'] : ['CHAP'] }),
      chapSecret: (user) => (user === this.#options.chap?.user ? this.#options.chap.secret : undefined),
      targetChapCredentials: () => undefined,
      findSession: () => undefined,
      allocateTsih: () => ++this.#tsih,
    };
  }

  #serve(connection: FakeConnection): void {
    const login = new TargetLogin({
      transport: 'tcp',
      portalGroupTag: 1,
      policy: this.#policy(),
      initialStatSN: 1000,
      commandWindow: connection.window,
      random: { bytes: (n) => Buffer.alloc(n, 0x5a) },
    });
    let params: NegotiatedParams | undefined;
    let initiatorPort = '';
    connection.end.pdus.subscribe({
      next: (pdu) => {
        this.pdus.push(pdu);
        if (params === undefined) {
          for (const action of login.receive(pdu)) {
            if (action.type === 'send') connection.send(action.pdu);
            else if (action.type === 'succeeded') {
              params = action.result.params;
              this.logins++;
              connection.statSN = serialAdd(action.result.statSN, 1);
              connection.expCmdSN = action.result.expCmdSN;
              // The I_T nexus is named by the ISID: a reinstated session is the same nexus, which lost its state.
              initiatorPort = `${action.result.initiatorName},i,0x${formatIsid(action.result.isid)}`;
              const nexus = { initiatorPortName: initiatorPort, targetPortName: TARGET_PORT };
              if (this.#nexuses.has(initiatorPort)) this.device.nexusLost(nexus);
              this.#nexuses.add(initiatorPort);
              connection.end.enable(params, {
                expStatSN: () => 0,
                statSN: () => connection.statSN,
                expCmdSN: () => connection.expCmdSN,
                maxCmdSN: () => connection.maxCmdSN,
              });
            } else if (action.type === 'failed') {
              void connection.end.close();
            }
          }
          return;
        }
        this.#fullFeature(connection, pdu, initiatorPort);
      },
      error: () => {
        connection.closed = true;
      },
      complete: () => {
        connection.closed = true;
      },
    });
  }

  #fullFeature(connection: FakeConnection, pdu: Pdu, initiatorPort: string): void {
    if ('immediate' in pdu && !pdu.immediate) {
      connection.expCmdSN = serialAdd(pdu.cmdSN, 1);
    }
    switch (pdu.kind) {
      case 'scsi-command': {
        const index = this.commands.length;
        this.commands.push({ connection: connection.index, pdu });
        const fault = this.onCommand(pdu, index);
        if (fault === 'drop-before') {
          this.sever();
          return;
        }
        if (fault === 'hold') {
          connection.held.set(pdu.itt, pdu);
          return;
        }
        void this.#execute(connection, pdu, initiatorPort, fault === 'drop-after');
        return;
      }
      case 'nop-out':
        if (pdu.itt !== RESERVED_TAG) {
          connection.send({
            kind: 'nop-in',
            lun: pdu.lun,
            itt: pdu.itt,
            ttt: RESERVED_TAG,
            data: pdu.data,
            ...connection.status(),
          });
        }
        return;
      case 'task-management-request': {
        const found = connection.held.delete(pdu.referencedTaskTag);
        const response = pdu.function === 1 && !found ? 1 : 0;
        connection.send({ kind: 'task-management-response', response, itt: pdu.itt, ...connection.status() });
        return;
      }
      case 'text-request': {
        const data = encodeText([
          { key: 'TargetName', value: TARGET_NAME },
          { key: 'TargetAddress', value: '127.0.0.1:3260,1' },
          { key: 'TargetName', value: 'iqn.2024-01.test.iser:other' },
          { key: 'TargetAddress', value: '[fe80::1]:3261,2' },
        ]);
        connection.send({
          kind: 'text-response',
          final: true,
          continue: false,
          lun: 0n,
          itt: pdu.itt,
          ttt: RESERVED_TAG,
          data: [data],
          ...connection.status(),
        });
        return;
      }
      case 'logout-request':
        connection.send({
          kind: 'logout-response',
          response: 0,
          itt: pdu.itt,
          time2Wait: 2,
          time2Retain: 20,
          ...connection.status(),
        });
        connection.closed = true;
        void connection.end.close();
        return;
      default:
        return;
    }
  }

  async #execute(
    connection: FakeConnection,
    pdu: ScsiCommandPdu,
    initiatorPort: string,
    dropAfter: boolean,
  ): Promise<void> {
    const task: TargetTaskRef = {
      itt: pdu.itt,
      lun: pdu.lun,
      expectedDataTransferLength: pdu.expectedDataTransferLength,
    };
    const direction = pdu.read && pdu.write ? 'bidi' : pdu.read ? 'read' : pdu.write ? 'write' : 'none';
    try {
      const response = await this.device.execute({
        lun: lunToNumber(pdu.lun) ?? 0xffff,
        cdb: pdu.cdb,
        expectedDataTransferLength: pdu.expectedDataTransferLength,
        direction,
        nexus: { initiatorPortName: initiatorPort, targetPortName: TARGET_PORT },
        getDataOut: (offset, length) => connection.end.getData(task, offset, length),
      });
      if (dropAfter) {
        this.sever();
        return;
      }
      const dataIn = response.dataIn ?? [];
      const length = Math.min(totalLength(dataIn), pdu.read ? pdu.expectedDataTransferLength : 0);
      if (length > 0) await connection.end.putData(task, 0, [Buffer.concat(dataIn).subarray(0, length)]);
      const expected = pdu.read ? pdu.expectedDataTransferLength : 0;
      const sense = response.sense;
      const senseSegment = sense === undefined ? [] : [Buffer.from([sense.length >> 8, sense.length & 0xff]), sense];
      connection.send({
        kind: 'scsi-response',
        bidirectionalReadResidualOverflow: false,
        bidirectionalReadResidualUnderflow: false,
        residualOverflow: false,
        residualUnderflow: pdu.read && length < expected,
        response: 0,
        status: response.status,
        itt: pdu.itt,
        snackTag: 0,
        expDataSN: 0,
        bidirectionalReadResidualCount: 0,
        residualCount: pdu.read ? expected - length : 0,
        data: senseSegment,
        ...connection.status(),
      });
      connection.end.taskDone(pdu.itt);
    } catch {
      // The connection went away under the command.
    }
  }
}
