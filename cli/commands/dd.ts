/**
 * `iser dd --if <url|file> --of <url|file|-> [--bs N] [--count N] [--skip N] [--seek N]`: copies between LUNs and
 * files as dd does (count, skip and seek in units of --bs), with memory bounded to two chunks, a progress line on a
 * terminal, and the summary on stderr at the end.
 */
import { Command, Option } from 'commander';
import { addConnectOptions, type ConnectFlags } from '../connect-options.js';
import type { CommandContext } from '../context.js';
import { usage } from '../errors.js';
import { copy, copySummary } from '../dd/copy.js';
import { openSink, openSource, type DdSink, type DdSource } from '../dd/endpoints.js';
import { integerValue, sizeValue } from '../parse-values.js';

interface DdFlags extends ConnectFlags {
  readonly if: string;
  readonly of: string;
  readonly bs: number;
  readonly count?: number;
  readonly skip: number;
  readonly seek: number;
}

/** Largest --bs: two chunks of it are held in memory. */
const MAX_BS = 64 * 2 ** 20;
const MAX_BLOCKS = Number.MAX_SAFE_INTEGER;

function planCopy(source: DdSource, sink: DdSink, flags: DdFlags) {
  for (const side of [source, sink]) {
    if (flags.bs % side.blockSize !== 0) {
      usage(`--bs ${flags.bs} is not a multiple of the ${side.blockSize}-byte blocks of ${side.description}`);
    }
  }
  const inputOffset = flags.skip * flags.bs;
  if (inputOffset > source.size) usage(`--skip ${flags.skip} starts past the end of ${source.description}`);
  const available = source.size - inputOffset;
  const length = flags.count === undefined ? available : Math.min(flags.count * flags.bs, available);
  const outputOffset = flags.seek * flags.bs;
  if (sink.sequential && outputOffset !== 0) usage(`--seek needs a file or LUN to write to, not ${sink.description}`);
  const written = Math.ceil(length / sink.blockSize) * sink.blockSize;
  if (sink.capacity !== undefined && outputOffset + written > sink.capacity) {
    usage(
      `${written} bytes at offset ${outputOffset} do not fit in ${sink.description} (${sink.capacity} bytes); ` +
        'use --count or --seek',
    );
  }
  return { inputOffset, outputOffset, length, chunk: flags.bs };
}

/** The `dd` command. */
export function ddCommand(ctx: CommandContext): Command {
  const command = new Command('dd')
    .description('copy between LUNs and files (count, skip and seek count --bs blocks)')
    .requiredOption('--if <url|file>', 'input: an iscsi:// URL or a file')
    .requiredOption('--of <url|file|->', 'output: an iscsi:// URL, a file (created) or - for stdout')
    .addOption(
      new Option('--bs <bytes>', 'chunk size, e.g. 64k, 1M').default(2 ** 20, '1M').argParser(sizeValue(MAX_BS)),
    )
    .addOption(new Option('--count <n>', 'copy at most n chunks').argParser(integerValue(0, MAX_BLOCKS)))
    .addOption(new Option('--skip <n>', 'skip n chunks of the input').default(0).argParser(integerValue(0, MAX_BLOCKS)))
    .addOption(
      new Option('--seek <n>', 'skip n chunks of the output').default(0).argParser(integerValue(0, MAX_BLOCKS)),
    );
  addConnectOptions(command);
  return command.action(async (flags: DdFlags) => {
    const source = await openSource(flags.if, flags, ctx);
    try {
      const sink = await openSink(flags.of, flags, ctx, flags.seek === 0);
      try {
        const plan = planCopy(source, sink, flags);
        const result = await copy(source, sink, plan, ctx.io);
        if (result.padding > 0) {
          ctx.io.err(
            `note: the last block was padded with ${result.padding} zero bytes to fill ${sink.blockSize} bytes`,
          );
        }
        ctx.io.err(copySummary(result.bytes, result.seconds));
      } finally {
        await sink.close();
      }
    } finally {
      await source.close();
    }
  });
}
