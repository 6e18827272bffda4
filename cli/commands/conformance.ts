/**
 * `iser conformance <url> …`: the property-based conformance suite, delegated to conformance/'s runConformanceCli
 * with every argument after `conformance` (its own --help describes them). Exit 0 when nothing failed, 1 usage,
 * 10 when a property failed.
 *
 * Three flags are the CLI's own and taken out first: `--iser-softroce <127.x>` and `--iser-softroce-port <n>` give
 * an iser:// URL a soft-RoCE device on loopback UDP (as for ls/inq/…), and `--pcap FILE` captures its RoCEv2
 * datagrams for the whole run.
 */
import { Command } from 'commander';
import { runConformanceCli } from '../../conformance/cli.js';
import { parseIscsiUrl } from '../../protocol/initiator/url.js';
import { softRoceDevice } from '../connectors.js';
import type { CommandContext } from '../context.js';
import { usage } from '../errors.js';
import { integerValue } from '../parse-values.js';
import { softRoceTarget } from '../softroce-endpoint.js';

const OWN_FLAGS = ['--iser-softroce', '--iser-softroce-port', '--pcap'] as const;
type OwnFlag = (typeof OWN_FLAGS)[number];

/** Splits the CLI's own flags (`--flag value` or `--flag=value`) from the suite's arguments. */
export function takeOwnFlags(args: readonly string[]): { own: Partial<Record<OwnFlag, string>>; rest: string[] } {
  const own: Partial<Record<OwnFlag, string>> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [name, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const flag = OWN_FLAGS.find((f) => f === name);
    if (flag === undefined) {
      rest.push(arg);
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined || value === '') usage(`${flag} needs a value`);
    own[flag] = value;
  }
  return { own, rest };
}

/** The `conformance` command; `exitCode` receives runConformanceCli's code. */
export function conformanceCommand(ctx: CommandContext, exitCode: { value: number }): Command {
  return new Command('conformance')
    .description('run the property-based conformance suite against a target (`iser conformance --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[options...]', 'the suite options')
    .action(async (args: string[]) => {
      const { own, rest } = takeOwnFlags(args);
      const address = own['--iser-softroce'];
      let provider;
      if (address !== undefined) {
        const url = rest.find((a) => /^(iscsi|iser):\/\//u.test(a));
        const port = own['--iser-softroce-port'];
        const endpoint = softRoceTarget(
          address,
          port === undefined ? undefined : integerValue(1, 65535)(port),
          url === undefined ? '' : parseIscsiUrl(url).host,
        );
        if (endpoint !== undefined) provider = await softRoceDevice(endpoint, own['--pcap'], ctx);
      } else if (own['--pcap'] !== undefined) {
        ctx.noteOnce('pcap', `note: --pcap ${own['--pcap']}: only soft-RoCE runs (--iser-softroce) are captured`);
      }
      const tty = process.stderr.isTTY;
      exitCode.value = await runConformanceCli(
        rest,
        {
          out: ctx.io.out,
          err: ctx.io.err,
          progress: (line) => {
            if (tty) process.stderr.write(`\r\x1b[2K${line ?? ''}`);
          },
        },
        provider === undefined ? {} : { provider },
      );
    });
}
