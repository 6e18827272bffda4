/**
 * A LIO target set up and torn down through configfs (as tools/rxevm/guest/lib.sh lio_configfs does, but with its
 * own IQN, backstore and port so it can sit beside other tests' targets): one sparse fileio LUN 0, one portal with
 * iSER on (an iSER-enabled LIO portal serves iSCSI/TCP on the same ip:port too), demo mode without authentication.
 * Straight configfs: targetcli would need a D-Bus system bus and many seconds of python start-up under TCG.
 * Needs root, the LIO modules and configfs mounted at /sys/kernel/config (the rxe guest has all three).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';

const CONFIGFS = '/sys/kernel/config/target';
const MODULES = ['target_core_mod', 'iscsi_target_mod', 'target_core_file', 'ib_isert'] as const;

/** What {@link startLio} builds. */
export interface LioOptions {
  readonly iqn: string;
  readonly address: string;
  readonly port: number;
  /** HBA index of the fileio backstore (`fileio_<n>`), distinct from other tests' backstores. */
  readonly hba: number;
  readonly sizeBytes: number;
  /** The backing file (sparse). */
  readonly file: string;
}

/** A running LIO target. */
export interface LioTarget {
  readonly iqn: string;
  readonly address: string;
  readonly port: number;
  /** Whether the portal took `iser=1` (false: the kernel has no ib_isert or no RDMA device under the address). */
  readonly iser: boolean;
  /**
   * Removes everything {@link startLio} made (best effort, in reverse order, in a child process); resolves with a
   * note when LIO kept it from finishing in time.
   */
  stop(): Promise<string | undefined>;
}

/** Why LIO cannot be set up here (loading its modules when possible), or undefined when it can. */
export function lioUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'LIO needs root (configfs)';
  try {
    for (const module of MODULES) execFileSync('modprobe', [module], { stdio: 'pipe', timeout: 30_000 });
  } catch (err) {
    return `the LIO modules do not load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  // The fabric's own directory (iscsi/) appears on its first mkdir; target/ shows the core is there.
  return existsSync(CONFIGFS) ? undefined : `${CONFIGFS} is missing (configfs not mounted?)`;
}

/** How long teardown may take before it is left to finish (or hang) on its own. */
const TEARDOWN_MS = 20_000;

/** Quotes a path for sh. */
function sh(path: string): string {
  return `'${path.replace(/'/g, "'\\''")}'`;
}

/**
 * Runs the teardown commands in a detached shell, waiting at most {@link TEARDOWN_MS}: LIO can leave a portal's
 * login thread stuck (an iSER login abandoned mid-negotiation), and then rmdir of the portal blocks in the kernel
 * (D state) for good. In a child process that blocks only the child, never this process. Resolves with a note when
 * the shell did not finish.
 */
function runTeardown(commands: readonly string[]): Promise<string | undefined> {
  if (commands.length === 0) return Promise.resolve(undefined);
  // Each step on its own: a failed one must not stop the rest from freeing what they hold.
  const script = [...commands].reverse().join(' 2>/dev/null; ');
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    const timer = setTimeout(() => {
      child.unref();
      resolve(
        `LIO teardown still blocked after ${TEARDOWN_MS} ms (left running): ${commands[commands.length - 1] ?? ''}`,
      );
    }, TEARDOWN_MS);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(`LIO teardown failed to start: ${err.message}`);
    });
  });
}

/** Sets the target up; on a failure part-way, removes what it made and throws. */
export async function startLio(options: LioOptions): Promise<LioTarget> {
  const backstore = `${CONFIGFS}/core/fileio_${options.hba}/lun0`;
  const tpg = `${CONFIGFS}/iscsi/${options.iqn}/tpgt_1`;
  const np = `${tpg}/np/${options.address}:${options.port}`;
  // Shell commands that undo each step, in the order the steps were done (run in reverse).
  const undo: string[] = [];
  const stop = async (): Promise<string | undefined> => {
    const commands = undo.splice(0);
    return runTeardown(commands);
  };
  const dir = (path: string): void => {
    mkdirSync(path, { recursive: true });
    undo.push(`rmdir ${sh(path)}`);
  };
  try {
    mkdirSync('/etc/target', { recursive: true }); // LIO's db_root: enabling a TPG fails without it
    writeFileSync(options.file, '');
    undo.push(`rm -f ${sh(options.file)}`);
    execFileSync('truncate', ['-s', String(options.sizeBytes), options.file], { timeout: 10_000 });
    dir(`${CONFIGFS}/core/fileio_${options.hba}`);
    dir(backstore);
    writeFileSync(`${backstore}/control`, `fd_dev_name=${options.file},fd_dev_size=${options.sizeBytes}`);
    writeFileSync(`${backstore}/enable`, '1');
    dir(`${CONFIGFS}/iscsi/${options.iqn}`);
    dir(tpg);
    dir(`${tpg}/lun/lun_0`);
    symlinkSync(backstore, `${tpg}/lun/lun_0/lun0`);
    undo.push(`rm ${sh(`${tpg}/lun/lun_0/lun0`)}`);
    dir(np);
    let iser = true;
    try {
      writeFileSync(`${np}/iser`, '1');
    } catch {
      iser = false;
    }
    iser = iser && readFileSync(`${np}/iser`, 'utf8').trim() === '1';
    writeFileSync(`${tpg}/attrib/authentication`, '0');
    writeFileSync(`${tpg}/attrib/generate_node_acls`, '1');
    writeFileSync(`${tpg}/attrib/demo_mode_write_protect`, '0');
    writeFileSync(`${tpg}/attrib/cache_dynamic_acls`, '1');
    writeFileSync(`${tpg}/enable`, '1');
    undo.push(`echo 0 > ${sh(`${tpg}/enable`)}`);
    return { iqn: options.iqn, address: options.address, port: options.port, iser, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
