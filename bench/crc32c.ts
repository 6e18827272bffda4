/**
 * CRC32C throughput, side by side: ours (slicing-by-8, pure TypeScript) vs @node-rs/crc32 (native, SSE4.2/ARMv8 CRC)
 * vs crc-32's CRC32C module (pure JavaScript). Run: `npx tsx bench/crc32c.ts`.
 *
 * Every operation digests ~64 KiB (1365 headers of 48 bytes, or one 64 KiB buffer, ...) so per-call overhead of the
 * harness does not drown small inputs. Prints MB/s and the ratio to ours; `protocol/pdu/digest.ts` records the
 * crossover it uses.
 */
import { Bench } from 'tinybench';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import CRC32C from 'crc-32/crc32c.js';
import { crc32c as ourCrc32c } from '../protocol/pdu/crc32c.js';

const SIZES = [48, 256, 1024, 4096, 16384, 65536];
const BYTES_PER_OP = 65536;

interface Row {
  readonly size: number;
  readonly mbps: Record<string, number>;
}

const implementations: Record<string, (b: Buffer) => number> = {
  ours: (b) => ourCrc32c(b),
  '@node-rs/crc32': (b) => nativeCrc32c(b),
  'crc-32/crc32c': (b) => CRC32C.buf(b) >>> 0,
};

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const size of SIZES) {
    const count = Math.max(1, Math.floor(BYTES_PER_OP / size));
    // Distinct buffers so no implementation benefits from one hot line of cache more than another.
    const buffers = Array.from({ length: count }, (_, i) => Buffer.alloc(size, i & 0xff));
    const bench = new Bench({ time: 300, warmup: true });
    let sink = 0;
    for (const [name, fn] of Object.entries(implementations)) {
      bench.add(name, () => {
        for (const b of buffers) sink ^= fn(b);
      });
    }
    await bench.run();
    const mbps: Record<string, number> = {};
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name} did not complete (${result.state})`);
      mbps[task.name] = (result.throughput.mean * count * size) / 1e6;
    }
    rows.push({ size, mbps });
    if (sink === 0x12345678) console.log('(sink)'); // keeps the work observable
  }
  const names = Object.keys(implementations);
  console.log(`CRC32C throughput (MB/s), Node ${process.version}, ${process.arch}`);
  console.log(
    [
      'bytes'.padStart(7),
      ...names.map((n) => n.padStart(16)),
      ...names.slice(1).map((n) => `${n}/ours`.padStart(22)),
    ].join(' '),
  );
  for (const row of rows) {
    const ours = row.mbps.ours ?? Number.NaN;
    console.log(
      [
        String(row.size).padStart(7),
        ...names.map((n) => (row.mbps[n] ?? Number.NaN).toFixed(0).padStart(16)),
        ...names.slice(1).map((n) => `${((row.mbps[n] ?? Number.NaN) / ours).toFixed(2)}x`.padStart(22)),
      ].join(' '),
    );
  }
}

await main();
