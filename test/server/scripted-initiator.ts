/**
 * A minimal scripted initiator for target tests: logs in with the login machine, then sends hand-built PDUs on a
 * DatamoverConnection and waits for the answers. No session layer: the tests decide every CmdSN and ITT.
 */
import type { DatamoverConnection } from '../../protocol/datamover.js';
import {
  InitiatorLogin,
  type InitiatorLoginConfig,
  type InitiatorLoginResult,
  type LoginError,
} from '../../protocol/login/index.js';
import { RESERVED_TAG, serialAdd, type Pdu, type ScsiResponsePdu, type TargetPdu } from '../../protocol/pdu/index.js';
import { encodeText, type TextPair } from '../../protocol/text/index.js';

/** The answer to one SCSI command. */
export interface CommandAnswer {
  readonly response: ScsiResponsePdu;
  readonly data: Buffer;
}

/** A scripted initiator on one connection. */
export class ScriptedInitiator {
  readonly connection: DatamoverConnection;
  readonly #inbox: Pdu[] = [];
  readonly #waiters: {
    match: (pdu: Pdu) => boolean;
    resolve: (pdu: Pdu) => void;
    reject: (error: Error) => void;
  }[] = [];
  #ended: Error | undefined;
  #closedWaiters: (() => void)[] = [];
  /** The next CmdSN to use. */
  cmdSN = 0;
  /** StatSN of the last status seen + 1. */
  expStatSN = 0;
  #itt = 1;

  constructor(connection: DatamoverConnection) {
    this.connection = connection;
    connection.pdus.subscribe({
      next: (pdu) => {
        if ('statSN' in pdu && pdu.kind !== 'nop-in') this.expStatSN = serialAdd(pdu.statSN, 1);
        const waiter = this.#waiters.findIndex((w) => w.match(pdu));
        if (waiter >= 0) this.#waiters.splice(waiter, 1)[0]?.resolve(pdu);
        else this.#inbox.push(pdu);
      },
      error: (err: unknown) => {
        this.#end(err instanceof Error ? err : new Error(String(err)));
      },
      complete: () => {
        this.#end(new Error('the connection closed'));
      },
    });
  }

  /** True once the target closed the connection. */
  get closed(): boolean {
    return this.#ended !== undefined;
  }

  /** Resolves when the connection is closed. */
  whenClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((resolve) => this.#closedWaiters.push(resolve));
  }

  /** A fresh ITT. */
  nextItt(): number {
    return this.#itt++;
  }

  /** The next PDU matching `match` (already received, or the next to arrive). */
  next<P extends Pdu = Pdu>(match: (pdu: Pdu) => boolean = () => true): Promise<P> {
    const index = this.#inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#inbox.splice(index, 1)[0] as P);
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    return new Promise<P>((resolve, reject) => {
      this.#waiters.push({
        match,
        resolve: (pdu) => {
          resolve(pdu as P);
        },
        reject,
      });
    });
  }

  /** The PDUs received and not yet taken. */
  get inbox(): readonly Pdu[] {
    return this.#inbox;
  }

  /** Logs in; resolves with the result or rejects with the LoginError. */
  async login(config: InitiatorLoginConfig): Promise<InitiatorLoginResult> {
    const machine = new InitiatorLogin(config);
    let actions = machine.start();
    for (;;) {
      for (const action of actions) {
        if (action.type === 'send') this.connection.sendControl(action.pdu);
        else if (action.type === 'failed') throw action.error satisfies LoginError;
        else if (action.type === 'redirected') throw new Error(`redirected to ${action.redirect.addressText}`);
        else {
          const result = action.result;
          this.cmdSN = result.cmdSN;
          this.expStatSN = serialAdd(result.statSN, 1);
          this.connection.enable(result.params, {
            expStatSN: () => this.expStatSN,
            statSN: () => 0,
            expCmdSN: () => 0,
            maxCmdSN: () => 0,
          });
          return result;
        }
      }
      actions = machine.receive(await this.next((p) => p.kind === 'login-response'));
    }
  }

  /** Sends a SCSI command and waits for its status (and read data). */
  async command(
    cdb: Buffer,
    options: {
      readonly lun?: bigint;
      readonly readLength?: number;
      readonly write?: Buffer;
      readonly immediate?: boolean;
    } = {},
  ): Promise<CommandAnswer> {
    const itt = this.nextItt();
    const readLength = options.readLength ?? 0;
    const readBuffer = readLength > 0 ? Buffer.alloc(readLength) : undefined;
    const write = options.write;
    const immediate = options.immediate ?? false;
    const cmdSN = this.cmdSN;
    if (!immediate) this.cmdSN = serialAdd(this.cmdSN, 1);
    this.connection.sendCommand(
      {
        kind: 'scsi-command',
        immediate,
        final: true,
        read: readLength > 0,
        write: write !== undefined,
        attribute: 1,
        lun: options.lun ?? 0n,
        itt,
        expectedDataTransferLength: write?.length ?? readLength,
        cmdSN,
        expStatSN: this.expStatSN,
        cdb,
        data: [],
      },
      {
        ...(readBuffer === undefined ? {} : { readBuffer }),
        ...(write === undefined ? {} : { writeData: [write] }),
        immediateLength: 0,
        unsolicitedDataOutLength: 0,
      },
    );
    const response = await this.next<ScsiResponsePdu>((p) => p.kind === 'scsi-response' && p.itt === itt);
    this.connection.taskDone(itt);
    const sent = readLength - (response.residualUnderflow ? response.residualCount : 0);
    return { response, data: readBuffer?.subarray(0, Math.max(0, sent)) ?? Buffer.alloc(0) };
  }

  /** Sends a control PDU built by `build(itt, cmdSN)`; non-immediate ones take a CmdSN. */
  send(build: (itt: number, cmdSN: number, expStatSN: number) => Pdu & { immediate?: boolean }): number {
    const itt = this.nextItt();
    const pdu = build(itt, this.cmdSN, this.expStatSN);
    if (pdu.immediate === false) this.cmdSN = serialAdd(this.cmdSN, 1);
    this.connection.sendControl(pdu);
    return itt;
  }

  /** A Text Request with `pairs`; resolves with the (first) Text Response. */
  async text(pairs: readonly TextPair[]): Promise<TargetPdu> {
    const itt = this.send((i, cmdSN, expStatSN) => ({
      kind: 'text-request',
      immediate: true,
      final: true,
      continue: false,
      lun: 0n,
      itt: i,
      ttt: RESERVED_TAG,
      cmdSN,
      expStatSN,
      data: [encodeText(pairs)],
    }));
    return this.next<TargetPdu>((p) => p.kind === 'text-response' && p.itt === itt);
  }

  /** Logs the session out and waits for the response. */
  async logout(reason = 0): Promise<TargetPdu> {
    const itt = this.send((i, cmdSN, expStatSN) => ({
      kind: 'logout-request',
      immediate: true,
      reason,
      itt: i,
      cid: 0,
      cmdSN,
      expStatSN,
    }));
    return this.next<TargetPdu>((p) => p.kind === 'logout-response' && p.itt === itt);
  }

  #end(error: Error): void {
    if (this.#ended !== undefined) return;
    this.#ended = error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    for (const resolve of this.#closedWaiters.splice(0)) resolve();
  }
}
