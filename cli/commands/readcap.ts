/**
 * `iser readcap <url>`: READ CAPACITY(16), printed as iscsi-readcapacity16 prints it (or only the size in bytes
 * with `--size`).
 */
import { Command } from 'commander';
import { readCapacity16 } from '../../protocol/scsi/cdb/build.js';
import { decodeReadCapacity16 } from '../../protocol/scsi/data/capacity.js';
import { addConnectOptions, loginPlan, type ConnectFlags } from '../connect-options.js';
import type { CommandContext } from '../context.js';
import { bounded, withLun } from '../session.js';

interface ReadcapFlags extends ConnectFlags {
  readonly size?: boolean;
}

/** The `readcap` command. */
export function readcapCommand(ctx: CommandContext): Command {
  const command = new Command('readcap')
    .description('READ CAPACITY(16): size, block length, provisioning (like iscsi-readcapacity16)')
    .argument('<url>', 'iscsi://[user[%password]@]host[:port]/target-iqn/lun')
    .option('-s, --size', 'print only the size in bytes');
  addConnectOptions(command);
  return command.action(async (text: string, flags: ReadcapFlags) => {
    const plan = await loginPlan(text, flags);
    ctx.addSecrets(plan.secrets);
    const result = await withLun(plan, ctx, (lun) =>
      bounded(
        lun.command(readCapacity16({ allocationLength: 32 }), { read: 32 }),
        plan.commandTimeoutMs,
        'READ CAPACITY(16)',
      ),
    );
    const rc = decodeReadCapacity16(result.data);
    const total = (rc.returnedLba + 1n) * BigInt(rc.blockLength);
    if (flags.size === true) {
      ctx.io.out(String(total));
      return;
    }
    const b = (v: boolean): number => (v ? 1 : 0);
    ctx.io.out(`RETURNED LOGICAL BLOCK ADDRESS:${rc.returnedLba}`);
    ctx.io.out(`LOGICAL BLOCK LENGTH IN BYTES:${rc.blockLength}`);
    ctx.io.out(`P_TYPE:${rc.protectionType} PROT_EN:${b(rc.protectionEnabled)}`);
    ctx.io.out(`P_I_EXPONENT:${rc.protectionIntervalExponent} LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:${rc.lbppbe}`);
    ctx.io.out(`LBPME:${b(rc.lbpme)} LBPRZ:${b(rc.lbprz)}`);
    ctx.io.out(`LOWEST ALIGNED LOGICAL BLOCK ADDRESS:${rc.lowestAlignedLba}`);
    ctx.io.out(`Total size:${total}`);
  });
}
