/**
 * Drives libiscsi's command-line tools (Debian `libiscsi-bin`) against an iSCSI URL, each run bounded in time, and
 * returns typed results. These are the independent initiator our target is tested against.
 *
 * libiscsi 1.19 offers only CHAP_A=5 (MD5) when it logs in with CHAP (lib/login.c), and accepts `header_digest`
 * of `none` or `crc32c` in the URL (lib/init.c). See {@link iscsiUrl} for the URL form.
 *
 * The conformance suite, iscsi-test-cu, lives in `./test-cu.js` and is re-exported here.
 */
import { PeerError, PeerErrorCode } from './errors.js';
import {
  parseIscsiLs,
  parseIscsiLsUrls,
  parseInquiryFields,
  parseReadCapacity16,
  parseReadCapacitySize,
  parseStandardInquiry,
  parseSupportedVpdPages,
  parseUnitSerialNumber,
  type InquiryFields,
  type LsTarget,
  type ReadCapacity16,
  type StandardInquiry,
} from './libiscsi-parse.js';
import { runTool, tail, type ToolResult } from './run-tool.js';

export * from './libiscsi-parse.js';
export * from './test-cu.js';
export { iscsiUrl, type ChapCredentials, type IscsiUrlParts } from './iscsi-url.js';

/** Options every libiscsi tool run takes. */
export interface LibiscsiToolOptions {
  /** Kill the tool after this long; default 15 s. */
  readonly timeoutMs?: number;
  /** `-i`: the initiator name to log in as; default the tool's own. */
  readonly initiatorName?: string;
}

/** Why a login failed, from libiscsi's `Status: <text>(<code>)` message. */
export interface LoginFailure {
  /** The RFC 7143 login status as class << 8 | detail, e.g. 0x0201 authentication failure. */
  readonly status: number;
  /** libiscsi's text for it, e.g. `Authentication failure`. */
  readonly text: string;
}

/** A libiscsi tool run that failed: the {@link PeerError} carries the login status when the login was refused. */
export class LibiscsiToolError extends PeerError {
  /** Set when the target refused the login with a status. */
  readonly loginFailure: LoginFailure | undefined;

  constructor(result: ToolResult) {
    // Some libiscsi tools print their errors on stdout (iscsi-ls -s: "list_luns: iscsi_connect failed").
    const stderr = tail(result.stderr === '' ? result.stdout : result.stderr);
    const command = `${result.program} ${result.args.join(' ')}`;
    super(
      result.timedOut ? PeerErrorCode.Timeout : PeerErrorCode.Exit,
      result.timedOut
        ? `${command} timed out`
        : `${command} exited ${result.exitCode ?? result.signal ?? '?'}: ${stderr}`,
      { exitCode: result.exitCode, stderr },
    );
    this.loginFailure = parseLoginFailure(result.stderr + result.stdout);
  }
}

/** Parses libiscsi's `Login Failed. ... Status: Authentication failure(513)` into a {@link LoginFailure}. */
export function parseLoginFailure(stderr: string): LoginFailure | undefined {
  const m = /Status: ([^()\n]+)\((\d+)\)/.exec(stderr);
  return m === null ? undefined : { text: m[1]!.trim(), status: Number(m[2]) };
}

/** `iscsi-ls [-s] PORTAL_URL`: discovery (SendTargets), optionally with each target's LUNs. */
export async function iscsiLs(
  portalUrl: string,
  opts: LibiscsiToolOptions & { readonly showLuns?: boolean } = {},
): Promise<LsTarget[]> {
  const args = opts.showLuns === true ? ['-s'] : [];
  return parseIscsiLs(await runLibiscsi('iscsi-ls', [...args, portalUrl], opts));
}

/** `iscsi-ls --url PORTAL_URL`: discovery, one URL per target (libiscsi always writes LUN 0 in them). */
export async function iscsiLsUrls(portalUrl: string, opts: LibiscsiToolOptions = {}): Promise<string[]> {
  return parseIscsiLsUrls(await runLibiscsi('iscsi-ls', ['--url', portalUrl], opts));
}

/** `iscsi-inq URL`: standard INQUIRY. */
export async function iscsiInquiry(url: string, opts: LibiscsiToolOptions = {}): Promise<StandardInquiry> {
  return parseStandardInquiry(await runLibiscsi('iscsi-inq', [url], opts));
}

/** `iscsi-inq -e 1 -c PAGE URL`: a VPD page as libiscsi prints it. */
export async function iscsiInquiryVpd(
  url: string,
  page: number,
  opts: LibiscsiToolOptions = {},
): Promise<InquiryFields> {
  return parseInquiryFields(await runLibiscsi('iscsi-inq', vpdArgs(url, page), opts));
}

/** The Supported VPD Pages page (0x00) as page codes. */
export async function iscsiSupportedVpdPages(url: string, opts: LibiscsiToolOptions = {}): Promise<number[]> {
  return parseSupportedVpdPages(await runLibiscsi('iscsi-inq', vpdArgs(url, 0x00), opts));
}

/** The Unit Serial Number page (0x80), padding trimmed. */
export async function iscsiUnitSerialNumber(url: string, opts: LibiscsiToolOptions = {}): Promise<string> {
  return parseUnitSerialNumber(await runLibiscsi('iscsi-inq', vpdArgs(url, 0x80), opts));
}

/** `iscsi-readcapacity16 URL`: READ CAPACITY (16). */
export async function iscsiReadCapacity16(url: string, opts: LibiscsiToolOptions = {}): Promise<ReadCapacity16> {
  return parseReadCapacity16(await runLibiscsi('iscsi-readcapacity16', [url], opts));
}

/** `iscsi-readcapacity16 -s URL`: the LUN size in bytes. Also the cheapest "can I log in" probe. */
export async function iscsiLunSize(url: string, opts: LibiscsiToolOptions = {}): Promise<bigint> {
  return parseReadCapacitySize(await runLibiscsi('iscsi-readcapacity16', ['-s', url], opts));
}

function vpdArgs(url: string, page: number): string[] {
  if (!Number.isInteger(page) || page < 0 || page > 0xff) {
    throw new PeerError(PeerErrorCode.BadOption, `VPD page ${page} is not a byte`);
  }
  // popt parses -c as a decimal integer: "0x80" would read as 0.
  return ['-e', '1', '-c', String(page), url];
}

/** Runs a libiscsi tool; resolves to stdout, rejects with a {@link LibiscsiToolError} on failure. */
async function runLibiscsi(program: string, args: readonly string[], opts: LibiscsiToolOptions): Promise<string> {
  const initiator = opts.initiatorName === undefined ? [] : ['-i', opts.initiatorName];
  const result = await runTool(program, [...initiator, ...args], { timeoutMs: opts.timeoutMs ?? 15_000 });
  if (result.timedOut || result.exitCode !== 0) throw new LibiscsiToolError(result);
  return result.stdout;
}
