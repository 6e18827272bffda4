/**
 * Test helper: finds a python3 that has scapy's RoCE layer (a pyenv shim on PATH may lack Debian's scapy), or
 * gives the reason to skip, printed once.
 */
import { spawnSync } from 'node:child_process';

function find(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import scapy.contrib.roce'], { timeout: 30_000, stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  return undefined;
}

/** The python to run scapy scripts with, or undefined. */
export const SCAPY_PYTHON = find();

/** Why scapy tests skip, or undefined when they can run. */
export const SCAPY_MISSING =
  SCAPY_PYTHON === undefined
    ? 'SKIP: python3 -c "import scapy.contrib.roce" fails (apt-get install python3-scapy; tools/install-deps.sh installs it)'
    : undefined;
if (SCAPY_MISSING !== undefined) console.warn(SCAPY_MISSING);
