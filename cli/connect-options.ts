/**
 * The flags every initiator command shares (initiator name, digests, CHAP, timeouts, --pcap) and how they combine
 * with an iSCSI URL into login options.
 *
 * CHAP: the URL form `iscsi://user%secret@host/...` is accepted because libiscsi and QEMU accept it, but it puts the
 * secret in the shell history and the process table; `--chap-user NAME --chap-secret-file FILE` (or the
 * ISER_CHAP_SECRET environment variable) keeps it out of both. Secrets are collected here so every message can be
 * redacted.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { PortalAddress } from '../protocol/datamover.js';
import type { InitiatorAuthConfig } from '../protocol/login/initiator-login.js';
import { parseIscsiUrl, redactIscsiUrl, type IscsiUrl } from '../protocol/initiator/url.js';
import { urlLoginOptions } from '../protocol/initiator/url-options.js';
import type { NegotiationConfig } from '../protocol/text/config.js';
import type { TransportKind } from '../protocol/text/negotiator.js';
import type { Digest } from '../protocol/text/params.js';
import { CliError, usage } from './errors.js';
import { digestValue, durationValue, integerValue } from './parse-values.js';
import { softRoceTarget, type SoftRoceEndpoint } from './softroce-endpoint.js';

/** Our iSCSI name unless --initiator-name says otherwise. */
export const DEFAULT_INITIATOR_NAME = 'iqn.2024-01.org.iser:initiator';

/** The environment variable that may hold the CHAP secret. */
export const CHAP_SECRET_ENV = 'ISER_CHAP_SECRET';

/** What commander hands over for the shared flags. */
export interface ConnectFlags {
  readonly initiatorName: string;
  readonly headerDigest?: readonly Digest[];
  readonly dataDigest?: readonly Digest[];
  readonly chapUser?: string;
  readonly chapSecretFile?: string;
  readonly loginTimeout: number;
  readonly commandTimeout: number;
  readonly pcap?: string;
  readonly iserSoftroce?: string;
  readonly iserSoftrocePort?: number;
}

/** Adds the shared flags to `command`. */
export function addConnectOptions(command: Command): Command {
  return command
    .option('--initiator-name <iqn>', 'our iSCSI name', DEFAULT_INITIATOR_NAME)
    .addOption(
      new Option('--header-digest <digest>', 'HeaderDigest to offer: none, crc32c, none-crc32c, crc32c-none').argParser(
        digestValue,
      ),
    )
    .addOption(new Option('--data-digest <digest>', 'DataDigest to offer (same values)').argParser(digestValue))
    .option('--chap-user <name>', 'CHAP name (the secret comes from --chap-secret-file or $ISER_CHAP_SECRET)')
    .option('--chap-secret-file <file>', 'file holding the CHAP secret (first line)')
    .addOption(
      new Option('--login-timeout <duration>', 'bound on connecting and logging in')
        .default(15_000, '15s')
        .argParser(durationValue(100, 600_000)),
    )
    .addOption(
      new Option('--command-timeout <duration>', 'bound on each SCSI command')
        .default(30_000, '30s')
        .argParser(durationValue(100, 3_600_000)),
    )
    .option('--pcap <file>', 'write the traffic as pcapng, where the transport has packets')
    .option(
      '--iser-softroce <address>',
      'iser:// over a soft-RoCE device on UDP at this 127.x address (no RDMA device)',
    )
    .addOption(
      new Option('--iser-softroce-port <port>', "the UDP port of the target's RoCE device (default 4791)").argParser(
        integerValue(1, 65535),
      ),
    );
}

/** Everything a login needs besides a connector. */
export interface LoginPlan {
  readonly url: IscsiUrl;
  /** The URL as it may be printed (passwords masked). */
  readonly display: string;
  readonly portal: PortalAddress;
  readonly transport: TransportKind;
  readonly targetName: string | undefined;
  readonly lun: number | undefined;
  readonly initiatorName: string;
  readonly auth: InitiatorAuthConfig | undefined;
  readonly negotiation: NegotiationConfig | undefined;
  readonly loginTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** Where --pcap asked the traffic to go. */
  readonly pcap: string | undefined;
  /** iSER over a soft-RoCE device on UDP instead of an RDMA device (--iser-softroce). */
  readonly softroce: SoftRoceEndpoint | undefined;
  /** Every secret involved, for redaction. */
  readonly secrets: readonly string[];
}

async function readSecret(flags: ConnectFlags): Promise<string | undefined> {
  if (flags.chapSecretFile !== undefined) {
    let text: string;
    try {
      text = await readFile(flags.chapSecretFile, 'utf8');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new CliError('ERR_CLI_FILE', `cannot read the CHAP secret file: ${why}`, { cause: err });
    }
    const secret = text.split(/\r?\n/u)[0] ?? '';
    if (secret === '') usage(`the CHAP secret file ${flags.chapSecretFile} has an empty first line`);
    return secret;
  }
  const env = process.env[CHAP_SECRET_ENV];
  return env === undefined || env === '' ? undefined : env;
}

/** The secrets a URL text holds, found even when the URL is malformed (for redaction before parsing). */
function urlSecrets(url: IscsiUrl | undefined): string[] {
  if (url === undefined) return [];
  return [url.password, url.targetPassword].filter((s): s is string => s !== undefined);
}

/** Parses `text` and combines it with the flags. `form` says whether a target/LUN is required. */
export async function loginPlan(
  text: string,
  flags: ConnectFlags,
  form: 'target' | 'portal' | 'any' = 'target',
): Promise<LoginPlan> {
  const url = parseIscsiUrl(text, { form });
  const fromUrl = urlLoginOptions(url);
  const secrets = urlSecrets(url);
  let auth = fromUrl.auth;
  const secret = await readSecret(flags);
  if (secret !== undefined) secrets.push(secret);
  if (flags.chapUser !== undefined) {
    if (auth !== undefined) usage('CHAP credentials are given twice (in the URL and with --chap-user)');
    if (secret === undefined) {
      usage(`--chap-user needs a secret: --chap-secret-file FILE or $${CHAP_SECRET_ENV}`);
    }
    auth = { method: 'CHAP', credentials: { user: flags.chapUser, secret } };
  } else if (flags.chapSecretFile !== undefined) {
    usage('--chap-secret-file needs --chap-user');
  }
  const negotiation: NegotiationConfig = {
    ...fromUrl.negotiation,
    ...(flags.headerDigest === undefined ? {} : { headerDigest: flags.headerDigest }),
    ...(flags.dataDigest === undefined ? {} : { dataDigest: flags.dataDigest }),
  };
  return {
    url,
    display: redactIscsiUrl(text),
    portal: fromUrl.portal,
    transport: fromUrl.transport,
    targetName: fromUrl.targetName,
    lun: fromUrl.lun,
    initiatorName: flags.initiatorName,
    auth,
    negotiation: Object.keys(negotiation).length === 0 ? undefined : negotiation,
    loginTimeoutMs: flags.loginTimeout,
    commandTimeoutMs: flags.commandTimeout,
    pcap: flags.pcap,
    softroce: softRoceTarget(flags.iserSoftroce, flags.iserSoftrocePort, fromUrl.portal.host),
    secrets,
  };
}

/** True when `text` looks like an iSCSI URL rather than a file name. */
export function isIscsiUrlText(text: string): boolean {
  return /^(iscsi|iser):\/\//iu.test(text);
}
