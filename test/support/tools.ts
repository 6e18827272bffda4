/**
 * Where a test needs a program this machine may lack (tshark, tgtd, iscsi-test-cu, a QEMU guest), it asks here.
 * A missing tool skips the test *with a printed reason*, never a silent pass.
 */
import { execFileSync } from 'node:child_process';

/** Absolute path of `name` on PATH (or in /usr/sbin, where Debian puts daemons), or undefined. */
export function which(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    if (dir === '') continue;
    try {
      execFileSync('test', ['-x', `${dir}/${name}`]);
      return `${dir}/${name}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Returns the reason a test must skip when `tool` is missing (and prints it once), or undefined when it is there.
 * Use as `describe.skipIf(missing('tshark', 'apt-get install tshark'))(...)`.
 */
export function missing(tool: string, installHint: string): string | undefined {
  if (which(tool) !== undefined) return undefined;
  const reason = `SKIP: ${tool} not found (${installHint}; tools/install-deps.sh installs it)`;
  console.warn(reason);
  return reason;
}
