/**
 * Writes the iSER-over-soft-RoCE session capture (test/support/roce-session-capture.ts) to a pcapng file, for
 * Wireshark or any other dissector: `npx tsx tools/roce-session-capture.ts session.pcapng [seed]`.
 * Nothing leaves the process: the hosts 10.0.0.1 and 10.0.0.2 exist only on the simulator's in-memory link.
 */
import { writeFile } from 'node:fs/promises';
import { captureIserSession } from '../test/support/roce-session-capture.js';

const [path, seedText] = process.argv.slice(2);
if (path === undefined || (seedText !== undefined && !/^\d+$/.test(seedText))) {
  console.error('usage: tools/roce-session-capture.ts <out.pcapng> [seed]');
  process.exit(1);
}
const capture = await captureIserSession(seedText === undefined ? {} : { seed: Number(seedText) });
await writeFile(path, capture.pcap);
console.log(
  `${path}: ${capture.frames} frames, ${capture.virtualMs.toFixed(3)} virtual ms; iSER QPNs initiator ` +
    `0x${capture.initiatorQp.qpn.toString(16)} target 0x${capture.targetQp.qpn.toString(16)}; steps ` +
    Object.entries(capture.steps)
      .map(([step, frame]) => `${step}@${frame}`)
      .join(' '),
);
