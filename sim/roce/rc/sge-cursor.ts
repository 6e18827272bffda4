/**
 * A position in a scatter/gather list (rxe `rxe_dma_info`): the requester gathers packet payloads from it, the
 * responder scatters SEND payloads into a receive's list, the completer scatters READ responses.
 */
import { Access } from '../../../transports/verbs.js';
import type { Sge } from '../../../transports/verbs.js';

/** Why a copy through a cursor failed. */
export type CopyProblem = 'protection' | 'length';

/** Walks a scatter/gather list. */
export class SgeCursor {
  /** Total bytes the list describes. */
  readonly length: number;
  /** Bytes not yet consumed. */
  resid: number;
  readonly #sgl: readonly Sge[];
  #index = 0;
  #offset = 0;

  /** A cursor at the start of `sgl`. */
  constructor(sgl: readonly Sge[]) {
    this.#sgl = sgl;
    this.length = sgl.reduce((n, sge) => n + sge.length, 0);
    this.resid = this.length;
  }

  /** Back to the start (a retried message is gathered again). */
  reset(): void {
    this.#index = 0;
    this.#offset = 0;
    this.resid = this.length;
  }

  /** Skips `n` bytes (a retry that resumes in the middle of a message). */
  advance(n: number): void {
    let left = Math.min(n, this.resid);
    this.resid -= left;
    while (left > 0) {
      const sge = this.#sgl[this.#index];
      if (sge === undefined) return;
      const step = Math.min(sge.length - this.#offset, left);
      left -= step;
      this.#step(sge, step);
    }
  }

  /**
   * The next `n` bytes (a view when they lie in one entry, else a copy), or the problem: a region that is no
   * longer valid. `n` must not exceed {@link SgeCursor.resid}.
   */
  gather(n: number): Buffer | CopyProblem {
    if (n > this.resid) return 'length';
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const sge = this.#sgl[this.#index];
      if (sge === undefined) return 'length';
      if (!sge.mr.valid) return 'protection';
      const step = Math.min(sge.length - this.#offset, left);
      const start = sge.offset + this.#offset;
      parts.push(sge.mr.buffer.subarray(start, start + step));
      left -= step;
      this.#step(sge, step);
    }
    this.resid -= n;
    return parts.length === 1 ? (parts[0] ?? Buffer.alloc(0)) : Buffer.concat(parts, n);
  }

  /** Copies `data` into the next bytes of the list (which must be valid and locally writable). */
  scatter(data: Buffer): CopyProblem | undefined {
    if (data.length > this.resid) return 'length';
    let done = 0;
    while (done < data.length) {
      const sge = this.#sgl[this.#index];
      if (sge === undefined) return 'length';
      if (!sge.mr.valid || (sge.mr.access & Access.LOCAL_WRITE) === 0) return 'protection';
      const step = Math.min(sge.length - this.#offset, data.length - done);
      data.copy(sge.mr.buffer, sge.offset + this.#offset, done, done + step);
      done += step;
      this.#step(sge, step);
    }
    this.resid -= data.length;
    return undefined;
  }

  #step(sge: Sge, step: number): void {
    this.#offset += step;
    if (this.#offset >= sge.length) {
      this.#index++;
      this.#offset = 0;
    }
  }
}
