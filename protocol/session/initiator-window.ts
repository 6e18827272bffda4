/**
 * The command window (RFC 7143 §3.2.2.1, §4.2.2.1): the next CmdSN to assign, and ExpCmdSN/MaxCmdSN as the
 * target last announced them. Non-immediate commands take a CmdSN and may go only while CmdSN <= MaxCmdSN;
 * immediate ones carry the next CmdSN without taking it.
 */
import { serialAdd, serialDiff, serialGt, serialLe } from '../pdu/serial.js';

/** What {@link CommandWindow.update} did with a target's numbers. */
export type WindowUpdate = 'updated' | 'unchanged' | 'ignored';

/** CmdSN assignment and the target's window, in serial arithmetic. */
export class CommandWindow {
  #cmdSN: number;
  #expCmdSN: number;
  #maxCmdSN: number;

  /** Starts at the numbers a login ended with: the first command carries `cmdSN`. */
  constructor(cmdSN: number, expCmdSN: number, maxCmdSN: number) {
    this.#cmdSN = cmdSN >>> 0;
    this.#expCmdSN = expCmdSN >>> 0;
    this.#maxCmdSN = maxCmdSN >>> 0;
  }

  /** The CmdSN the next non-immediate PDU takes (and immediate PDUs carry). */
  get cmdSN(): number {
    return this.#cmdSN;
  }

  /** Next CmdSN the target expects, as it last said. */
  get expCmdSN(): number {
    return this.#expCmdSN;
  }

  /** Highest CmdSN the target accepts, as it last said. */
  get maxCmdSN(): number {
    return this.#maxCmdSN;
  }

  /** True when a non-immediate PDU may be sent now (CmdSN <= MaxCmdSN). */
  get open(): boolean {
    return serialLe(this.#cmdSN, this.#maxCmdSN);
  }

  /** Takes the next CmdSN for a non-immediate PDU. */
  take(): number {
    const sn = this.#cmdSN;
    this.#cmdSN = serialAdd(sn, 1);
    return sn;
  }

  /**
   * Applies the ExpCmdSN/MaxCmdSN of a target PDU. A pair with MaxCmdSN < ExpCmdSN - 1 is invalid and ignored
   * (RFC 7143 §4.2.2.1); otherwise each number moves only forward, so a stale PDU never shrinks the window.
   */
  update(expCmdSN: number, maxCmdSN: number): WindowUpdate {
    if (serialDiff(maxCmdSN, expCmdSN) < -1) return 'ignored';
    let changed = false;
    if (serialGt(expCmdSN, this.#expCmdSN)) {
      this.#expCmdSN = expCmdSN;
      changed = true;
    }
    if (serialGt(maxCmdSN, this.#maxCmdSN)) {
      this.#maxCmdSN = maxCmdSN;
      changed = true;
    }
    return changed ? 'updated' : 'unchanged';
  }
}
