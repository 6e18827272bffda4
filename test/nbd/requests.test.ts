import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Command, CommandFlag, NbdErrno } from '../../nbd/constants.js';
import { checkRequest, type ExportView } from '../../nbd/requests.js';
import type { RequestHeader } from '../../nbd/wire.js';

const view: ExportView = {
  size: 1n << 20n,
  blockSizes: { minimum: 512, preferred: 4096, maximum: 65536 },
  readOnly: false,
};

function req(type: number, offset: number | bigint, length: number, flags = 0): RequestHeader {
  return { type, offset: BigInt(offset), length, flags, handle: 1n };
}

function errno(request: RequestHeader, v: ExportView = view, shuttingDown = false): number | undefined {
  const verdict = checkRequest(request, v, shuttingDown);
  return verdict.kind === 'error' ? verdict.errno : undefined;
}

describe('checkRequest', () => {
  it('passes well-formed commands through with their ranges and flags', () => {
    expect(checkRequest(req(Command.READ, 4096, 8192), view)).toEqual({ kind: 'read', offset: 4096, length: 8192 });
    expect(checkRequest(req(Command.WRITE, 0, 512, CommandFlag.FUA), view)).toEqual({
      kind: 'write',
      offset: 0,
      length: 512,
      fua: true,
    });
    expect(checkRequest(req(Command.FLUSH, 0, 0), view)).toEqual({ kind: 'flush' });
    expect(checkRequest(req(Command.TRIM, 0, 1 << 20), view)).toEqual({
      kind: 'trim',
      offset: 0,
      length: 1 << 20,
      fua: false,
    });
    expect(checkRequest(req(Command.WRITE_ZEROES, 512, 1024, CommandFlag.NO_HOLE), view)).toEqual({
      kind: 'write-zeroes',
      offset: 512,
      length: 1024,
      fua: false,
      noHole: true,
    });
    expect(checkRequest(req(Command.DISC, 0, 0), view)).toEqual({ kind: 'disconnect' });
    expect(checkRequest(req(Command.READ, 0, 0), view)).toEqual({ kind: 'empty' });
  });

  it('answers ranges past the end ENOSPC for writes and EINVAL otherwise', () => {
    expect(errno(req(Command.WRITE, (1 << 20) - 512, 1024))).toBe(NbdErrno.ENOSPC);
    expect(errno(req(Command.READ, (1 << 20) - 512, 1024))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.TRIM, 1 << 20, 512))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.READ, (1n << 64n) - 512n, 512))).toBe(NbdErrno.EINVAL);
  });

  it('answers misaligned ranges and oversized payloads EINVAL', () => {
    expect(errno(req(Command.READ, 100, 512))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.WRITE, 0, 100))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.READ, 0, 65536 + 512))).toBe(NbdErrno.EINVAL);
    // Commands without payload may exceed the maximum payload.
    expect(checkRequest(req(Command.WRITE_ZEROES, 0, 65536 * 4), view).kind).toBe('write-zeroes');
  });

  it('answers unknown commands and flags EINVAL, writes to read-only exports EPERM', () => {
    expect(errno(req(Command.BLOCK_STATUS, 0, 512))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.CACHE, 0, 512))).toBe(NbdErrno.EINVAL);
    expect(errno(req(99, 0, 512))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.READ, 0, 512, CommandFlag.DF))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.WRITE, 0, 512, CommandFlag.NO_HOLE))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.WRITE_ZEROES, 0, 512, CommandFlag.FAST_ZERO))).toBe(NbdErrno.EINVAL);
    expect(errno(req(Command.FLUSH, 512, 0))).toBe(NbdErrno.EINVAL);
    const ro = { ...view, readOnly: true };
    expect(errno(req(Command.WRITE, 0, 512), ro)).toBe(NbdErrno.EPERM);
    expect(errno(req(Command.TRIM, 0, 512), ro)).toBe(NbdErrno.EPERM);
    expect(errno(req(Command.WRITE_ZEROES, 0, 512), ro)).toBe(NbdErrno.EPERM);
    expect(checkRequest(req(Command.READ, 0, 512, CommandFlag.FUA), ro).kind).toBe('read');
  });

  it('answers everything but DISC ESHUTDOWN while shutting down', () => {
    expect(errno(req(Command.READ, 0, 512), view, true)).toBe(NbdErrno.ESHUTDOWN);
    expect(checkRequest(req(Command.DISC, 0, 0), view, true).kind).toBe('disconnect');
  });

  it('never lets a range outside the export or off the block grid reach the device', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(Command.READ, Command.WRITE, Command.TRIM, Command.WRITE_ZEROES),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xffff }),
        (type, offset, length, flags) => {
          const verdict = checkRequest({ type, offset, length, flags, handle: 0n }, view);
          if ('offset' in verdict) {
            expect(BigInt(verdict.offset + verdict.length)).toBeLessThanOrEqual(view.size);
            expect(verdict.offset % 512).toBe(0);
            expect(verdict.length % 512).toBe(0);
            expect(verdict.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
