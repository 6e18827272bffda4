/**
 * `iser ls <portal-url>`: discovery (SendTargets=All), then for each target a login and its LUNs with type and size,
 * printed as `iscsi-ls -s` prints them so scripts written for libiscsi keep working:
 *
 *     Target:iqn.2024-01.org.example:disk Portal:127.0.0.1:3260,1
 *     Lun:0    Type:DIRECT_ACCESS (Size:256M)
 */
import { Command } from 'commander';
import type { Lun } from '../../protocol/initiator/lun.js';
import type { DiscoveredTarget, TargetAddress } from '../../protocol/text/sendtargets.js';
import { addConnectOptions, loginPlan, type ConnectFlags, type LoginPlan } from '../connect-options.js';
import type { CommandContext } from '../context.js';
import { deviceTypeName, lsSize } from '../scsi-names.js';
import { bounded, clearUnitAttention, discoverTargets, withSession } from '../session.js';

interface LsFlags extends ConnectFlags {
  readonly luns: boolean;
  readonly url: boolean;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** Where to log in to a discovered target: its first address, unless that is a wildcard. */
function targetPortal(plan: LoginPlan, address: TargetAddress | undefined): { host: string; port: number } {
  if (address === undefined || WILDCARDS.has(address.host)) return plan.portal;
  return { host: address.host, port: address.port ?? 3260 };
}

function hostText(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function describeLun(lun: Lun, timeoutMs: number): Promise<string> {
  await clearUnitAttention(lun, timeoutMs);
  const inquiry = await bounded(lun.inquiry(), timeoutMs, 'INQUIRY');
  const type = deviceTypeName(inquiry.deviceType);
  let line = `Lun:${String(lun.number ?? 0).padEnd(4)} Type:${type}`;
  if (inquiry.deviceType === 0) {
    const capacity = await bounded(lun.readCapacity(), timeoutMs, 'READ CAPACITY');
    line += ` (Size:${lsSize(capacity.blocks * BigInt(capacity.blockSize))})`;
  }
  return line;
}

async function listTarget(plan: LoginPlan, target: DiscoveredTarget, flags: LsFlags, ctx: CommandContext) {
  const first = target.addresses[0];
  const portal = targetPortal(plan, first);
  const tpgt = first?.portalGroupTag ?? 1;
  if (!flags.url) {
    for (const address of target.addresses.length === 0 ? [undefined] : target.addresses) {
      const where = targetPortal(plan, address);
      ctx.io.out(
        `Target:${target.name} Portal:${hostText(where.host)}:${where.port},${address?.portalGroupTag ?? tpgt}`,
      );
    }
  }
  if (!flags.luns && !flags.url) return;
  const targetPlan: LoginPlan = { ...plan, portal, targetName: target.name };
  await withSession(targetPlan, ctx, async (session) => {
    const report = await bounded(session.lun(0).reportLuns(), plan.commandTimeoutMs, 'REPORT LUNS');
    for (const number of report.luns) {
      if (flags.url) {
        const scheme = plan.transport === 'iser' ? 'iser' : 'iscsi';
        ctx.io.out(`${scheme}://${hostText(portal.host)}:${portal.port}/${target.name}/${number}`);
      } else {
        ctx.io.out(await describeLun(session.lun(number), plan.commandTimeoutMs));
      }
    }
  });
}

/** The `ls` command. */
export function lsCommand(ctx: CommandContext): Command {
  const command = new Command('ls')
    .description('discover the targets of a portal and list their LUNs (like iscsi-ls -s)')
    .argument('<portal-url>', 'iscsi://[user[%password]@]host[:port] (a target URL works too: its portal is used)')
    .option('--no-luns', 'list targets only (no login to each target)')
    .option('--url', 'print one iscsi:// URL per LUN instead (like iscsi-ls --url)');
  addConnectOptions(command);
  return command.action(async (text: string, flags: LsFlags) => {
    const plan = await loginPlan(text, flags, 'any');
    ctx.addSecrets(plan.secrets);
    const targets = await discoverTargets(plan, ctx);
    if (targets.length === 0) ctx.io.err(`no targets at ${plan.display}`);
    for (const target of targets) await listTarget(plan, target, flags, ctx);
  });
}
