/**
 * A full-feature connection driven PDU by PDU: logged in by our login machine, then numbered by hand, so a
 * property can send exactly the CmdSN, ITT or flags a rule is about (like libiscsi's test-tool).
 */
import { RESERVED_TAG } from '../../protocol/pdu/constants.js';
import { lunFromNumber } from '../../protocol/pdu/lun.js';
import type { Pdu } from '../../protocol/pdu/pdu.js';
import { TaskAttribute, type ScsiCommandPdu } from '../../protocol/pdu/scsi-command.js';
import { serialAdd, serialGt } from '../../protocol/pdu/serial.js';
import type { InitiatorLoginResult } from '../../protocol/login/initiator-login.js';
import { bearsStatus } from './invariants.js';
import type { RawConnection } from './raw-connection.js';

/** Numbers kept by hand. */
export class RawSession {
  /** The CmdSN the next non-immediate PDU takes. */
  cmdSN: number;
  expStatSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  #nextItt = 0x100;
  #seen = 0;
  readonly lun: bigint;

  constructor(
    readonly raw: RawConnection,
    login: InitiatorLoginResult,
    lun: number,
  ) {
    this.cmdSN = login.cmdSN;
    this.expStatSN = serialAdd(login.statSN, 1);
    this.expCmdSN = login.expCmdSN;
    this.maxCmdSN = login.maxCmdSN;
    this.lun = lunFromNumber(lun);
    raw.connection.enable(login.params, {
      expStatSN: () => this.#refresh().expStatSN,
      statSN: () => 0,
      expCmdSN: () => this.expCmdSN,
      maxCmdSN: () => this.maxCmdSN,
    });
  }

  /** A fresh ITT. */
  itt(): number {
    return this.#nextItt++;
  }

  /** Applies the numbers of PDUs received since the last look. */
  #refresh(): this {
    for (; this.#seen < this.raw.received.length; this.#seen++) {
      const pdu = this.raw.received[this.#seen];
      if (pdu === undefined) continue;
      if (bearsStatus(pdu) && serialGt(serialAdd(pdu.statSN, 1), this.expStatSN)) {
        this.expStatSN = serialAdd(pdu.statSN, 1);
      }
      if ('maxCmdSN' in pdu && 'expCmdSN' in pdu) {
        if (serialGt(pdu.expCmdSN, this.expCmdSN)) this.expCmdSN = pdu.expCmdSN;
        if (serialGt(pdu.maxCmdSN, this.maxCmdSN)) this.maxCmdSN = pdu.maxCmdSN;
      }
    }
    return this;
  }

  /** A SCSI command without data; `cmdSN` overrides the next one (and then does not advance it). */
  command(
    cdb: Buffer,
    options: { readonly itt?: number; readonly cmdSN?: number; readonly immediate?: boolean } = {},
  ): number {
    this.#refresh();
    const itt = options.itt ?? this.itt();
    const immediate = options.immediate ?? false;
    const cmdSN = options.cmdSN ?? this.cmdSN;
    const pdu: ScsiCommandPdu = {
      kind: 'scsi-command',
      immediate,
      final: true,
      read: false,
      write: false,
      attribute: TaskAttribute.Simple,
      lun: this.lun,
      itt,
      expectedDataTransferLength: 0,
      cmdSN,
      expStatSN: this.expStatSN,
      cdb,
      data: [],
    };
    this.raw.sendCommand(pdu);
    if (options.cmdSN === undefined && !immediate) this.cmdSN = serialAdd(this.cmdSN, 1);
    return itt;
  }

  /** An immediate NOP-Out ping; returns its ITT. */
  ping(): number {
    this.#refresh();
    const itt = this.itt();
    this.raw.send({
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      itt,
      ttt: RESERVED_TAG,
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
      data: [],
    });
    return itt;
  }

  /** The PDU that ends the task `itt` (SCSI Response or NOP-In), within `ms`. */
  async answer(itt: number, ms: number): Promise<Pdu | undefined> {
    const found = await Promise.race([
      this.raw.next('scsi-response', ms, (p) => p.itt === itt),
      this.raw.next('nop-in', ms, (p) => p.itt === itt),
    ]);
    this.#refresh();
    return found;
  }

  /** Every PDU received for `itt`. */
  received(itt: number): Pdu[] {
    return this.raw.received.filter((p) => 'itt' in p && p.itt === itt);
  }
}
