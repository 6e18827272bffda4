/**
 * What `iser dd` copies from and to: a LUN (through a session), a file, or stdout. Each says how big it is and what
 * granularity it needs, and reads or writes at byte offsets; dd keeps at most two chunks in memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Lun } from '../../protocol/initiator/lun.js';
import { isIscsiUrlText, loginPlan, type ConnectFlags } from '../connect-options.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { bounded, clearUnitAttention, openSession } from '../session.js';

/** Something dd reads. */
export interface DdSource {
  /** For messages (URLs redacted). */
  readonly description: string;
  /** Bytes it holds. */
  readonly size: number;
  /** Reads must start and end on multiples of this. */
  readonly blockSize: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Something dd writes. */
export interface DdSink {
  readonly description: string;
  /** Bytes it can hold (undefined: grows). */
  readonly capacity: number | undefined;
  /** Writes must start and end on multiples of this. */
  readonly blockSize: number;
  /** Only in order from offset 0 (stdout). */
  readonly sequential: boolean;
  write(offset: number, data: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** A LUN with its geometry, logged in. */
interface OpenLun {
  readonly lun: Lun;
  readonly blockSize: number;
  readonly size: number;
  readonly timeoutMs: number;
  readonly description: string;
  readonly close: () => Promise<void>;
}

async function openLun(text: string, flags: ConnectFlags, ctx: CommandContext): Promise<OpenLun> {
  const plan = await loginPlan(text, flags);
  ctx.addSecrets(plan.secrets);
  const opened = await openSession(plan, ctx);
  try {
    const lun = opened.session.lun(plan.lun ?? 0);
    await clearUnitAttention(lun, plan.commandTimeoutMs);
    const capacity = await bounded(lun.readCapacity(), plan.commandTimeoutMs, 'READ CAPACITY');
    const size = Number(capacity.blocks) * capacity.blockSize;
    if (!Number.isSafeInteger(size))
      throw new CliError('ERR_CLI_USAGE', `${plan.display} is too large for dd (over 8 PiB)`);
    return {
      lun,
      blockSize: capacity.blockSize,
      size,
      timeoutMs: plan.commandTimeoutMs,
      description: plan.display,
      close: opened.close,
    };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

function fileError(what: string, path: string, err: unknown): CliError {
  const why = err instanceof Error ? err.message : String(err);
  return new CliError('ERR_CLI_FILE', `cannot ${what} ${path}: ${why}`, { cause: err });
}

async function readFully(handle: FileHandle, offset: number, length: number, path: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
    if (bytesRead === 0) throw new CliError('ERR_CLI_FILE', `${path} ended early (it shrank while being copied?)`);
    done += bytesRead;
  }
  return buffer;
}

/** Opens `--if`: a URL or a file. */
export async function openSource(text: string, flags: ConnectFlags, ctx: CommandContext): Promise<DdSource> {
  if (isIscsiUrlText(text)) {
    const l = await openLun(text, flags, ctx);
    return {
      description: l.description,
      size: l.size,
      blockSize: l.blockSize,
      read: (offset, length) => bounded(l.lun.read(offset / l.blockSize, length / l.blockSize), l.timeoutMs, 'READ'),
      close: l.close,
    };
  }
  if (text === '-') throw new CliError('ERR_CLI_USAGE', '--if - (stdin) is not supported: give a file or a URL');
  let handle: FileHandle;
  try {
    handle = await open(text, 'r');
  } catch (err) {
    throw fileError('open', text, err);
  }
  try {
    const stat = await handle.stat();
    return {
      description: text,
      size: stat.size,
      blockSize: 1,
      read: (offset, length) =>
        readFully(handle, offset, length, text).catch((err: unknown) => {
          throw err instanceof CliError ? err : fileError('read', text, err);
        }),
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw fileError('stat', text, err);
  }
}

/** Opens `--of`: a URL, a file (created; truncated unless --seek is given), or `-` for stdout. */
export async function openSink(
  text: string,
  flags: ConnectFlags,
  ctx: CommandContext,
  truncate: boolean,
): Promise<DdSink> {
  if (isIscsiUrlText(text)) {
    const l = await openLun(text, flags, ctx);
    return {
      description: l.description,
      capacity: l.size,
      blockSize: l.blockSize,
      sequential: false,
      write: (offset, data) => bounded(l.lun.write(offset / l.blockSize, data), l.timeoutMs, 'WRITE'),
      close: l.close,
    };
  }
  if (text === '-') {
    return {
      description: 'stdout',
      capacity: undefined,
      blockSize: 1,
      sequential: true,
      write: (_offset, data) => ctx.io.writeStdout(data),
      close: () => Promise.resolve(),
    };
  }
  let handle: FileHandle;
  try {
    // Without truncation the file keeps what lies outside the copied range (as dd conv=notrunc).
    handle = await open(text, truncate ? 'w' : 'a+').then(async (h) => {
      if (truncate) return h;
      await h.close();
      return open(text, 'r+');
    });
  } catch (err) {
    throw fileError('open', text, err);
  }
  return {
    description: text,
    capacity: undefined,
    blockSize: 1,
    sequential: false,
    write: async (offset, data) => {
      try {
        let done = 0;
        while (done < data.length) {
          const { bytesWritten } = await handle.write(data, done, data.length - done, offset + done);
          done += bytesWritten;
        }
      } catch (err) {
        throw fileError('write', text, err);
      }
    },
    close: () => handle.close(),
  };
}
