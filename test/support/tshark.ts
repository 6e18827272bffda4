/**
 * Runs tshark on a capture and gives tests structured access to what it decoded: tshark is our independent
 * oracle for the bytes we synthesize (see DESIGN.md §5).
 *
 * We use `-T json --no-duplicate-keys`: plain `-T json` repeats a key in the same object when a field occurs more
 * than once (e.g. many `iscsi.keyvalue`), and JSON.parse keeps only the last. With `--no-duplicate-keys` repeated
 * keys become arrays, so every occurrence survives; {@link fields} flattens them back into a list.
 *
 * Skip tests that need this with `describe.skipIf(missing('tshark', 'apt-get install tshark'))` from `./tools.js`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A value in tshark's JSON tree: a field's shown value, a subtree, or the list a repeated key became. */
export type TsharkValue = string | TsharkTree | readonly TsharkValue[];
/** A protocol layer or subtree: field names (or labels) to values. */
export interface TsharkTree {
  readonly [key: string]: TsharkValue;
}
/** One decoded packet: its protocol layers as tshark's `_source.layers`. */
export interface TsharkPacket {
  /** Layers keyed by protocol name (`frame`, `eth`, `ip`, `tcp`, `iscsi`, ...). */
  readonly layers: TsharkTree;
}

/** Options of {@link runTshark}. */
export interface TsharkOptions {
  /** `-d` rules, e.g. {@link DECODE_ISCSI_3260}. */
  readonly decodeAs?: readonly string[];
  /** `-o` preferences, e.g. {@link CHECK_CHECKSUMS}. */
  readonly prefs?: readonly string[];
  /** A display filter (`-Y`); implies two passes (`-2`) so reassembled PDUs are matched. */
  readonly displayFilter?: string;
  /** Any other arguments, appended last. */
  readonly extraArgs?: readonly string[];
  /** Kill tshark after this long; default 30 s. */
  readonly timeoutMs?: number;
}

/** Decode TCP port 3260 as iSCSI. */
export const DECODE_ISCSI_3260 = 'tcp.port==3260,iscsi';
/** Preferences that make tshark verify IPv4, TCP and UDP checksums (then `*.checksum.status` is "1" when good). */
export const CHECK_CHECKSUMS: readonly string[] = [
  'ip.check_checksum:TRUE',
  'tcp.check_checksum:TRUE',
  'udp.check_checksum:TRUE',
];
/** The value tshark shows in a `*.checksum.status` field for a checksum that verified. */
export const CHECKSUM_GOOD = '1';
/** The `*.checksum.status` value for a checksum that is absent (e.g. a zero UDP checksum). */
export const CHECKSUM_NOT_PRESENT = '3';

const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

/** Runs `tshark -r pcapPath -T json --no-duplicate-keys` and returns the decoded packets. */
export async function runTshark(pcapPath: string, opts: TsharkOptions = {}): Promise<TsharkPacket[]> {
  const args = ['-r', pcapPath, '-T', 'json', '--no-duplicate-keys'];
  for (const d of opts.decodeAs ?? []) args.push('-d', d);
  for (const o of opts.prefs ?? []) args.push('-o', o);
  if (opts.displayFilter !== undefined) args.push('-2', '-Y', opts.displayFilter);
  args.push(...(opts.extraArgs ?? []));
  const stdout = await run('tshark', args, opts.timeoutMs ?? 30_000);
  const text = stdout.trim();
  // tshark prints nothing at all (not "[]") when no packet matched.
  if (text === '') return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error('tshark -T json did not print an array');
  return parsed.map((entry: unknown, i) => {
    const layers = isTree(entry) && isTree(entry._source) ? entry._source.layers : undefined;
    if (!isTree(layers)) throw new Error(`tshark packet ${i} has no _source.layers`);
    return { layers };
  });
}

/** Writes `pcap` to a temporary file, runs {@link runTshark} on it, and removes the file. */
export async function runTsharkOnBuffer(pcap: Buffer, opts: TsharkOptions = {}): Promise<TsharkPacket[]> {
  const dir = await mkdtemp(join(tmpdir(), 'iser-tshark-'));
  try {
    const path = join(dir, 'capture.pcapng');
    await writeFile(path, pcap);
    return await runTshark(path, opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every value of field `name` anywhere in the packet (all layers, subtrees and repeats), in document order. */
export function fields(pkt: TsharkPacket, name: string): string[] {
  const out: string[] = [];
  const walk = (value: TsharkValue, matched: boolean): void => {
    if (typeof value === 'string') {
      if (matched) out.push(value);
    } else if (isValueList(value)) {
      for (const v of value) walk(v, matched);
    } else {
      for (const [k, v] of Object.entries(value)) walk(v, k === name);
    }
  };
  walk(pkt.layers, false);
  return out;
}

/** The first value of field `name`, or undefined. */
export function field(pkt: TsharkPacket, name: string): string | undefined {
  return fields(pkt, name)[0];
}

/** True when a key `name` occurs anywhere in the packet (also for subtrees, e.g. `tcp.analysis.flags`). */
export function has(pkt: TsharkPacket, name: string): boolean {
  const walk = (value: TsharkValue): boolean => {
    if (typeof value === 'string') return false;
    if (isValueList(value)) return value.some(walk);
    return Object.entries(value).some(([k, v]) => k === name || walk(v));
  };
  return walk(pkt.layers);
}

/** The protocol stack of the packet, from `frame.protocols` (e.g. `['eth', 'ethertype', 'ip', 'tcp', 'iscsi']`). */
export function layers(pkt: TsharkPacket): string[] {
  return (field(pkt, 'frame.protocols') ?? '').split(':').filter((p) => p !== '');
}

function isTree(v: unknown): v is TsharkTree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isValueList(v: TsharkValue): v is readonly TsharkValue[] {
  return Array.isArray(v);
}

/** Runs a program, returning stdout; rejects on a non-zero exit, on too much output, or after `timeoutMs`. */
function run(program: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let failure: Error | undefined;
    const stop = (why: Error): void => {
      failure ??= why;
      // Only ever the child we started, by its pid.
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    };
    const timer = setTimeout(() => {
      stop(new Error(`${program} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_OUTPUT_BYTES) stop(new Error(`${program} printed more than ${MAX_OUTPUT_BYTES} bytes`));
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // tshark warns about running as root on stderr; only the exit status decides.
      if (failure !== undefined) {
        reject(failure);
      } else if (code !== 0) {
        const stderr = Buffer.concat(err).toString().trim();
        reject(new Error(`${program} ${args.join(' ')} exited ${code ?? signal}: ${stderr}`));
      } else {
        resolve(Buffer.concat(out).toString('utf8'));
      }
    });
  });
}
