/**
 * `npm start`: the demo — an iSCSI target and initiator in one process, over iSER on the simulated RDMA fabric in
 * virtual time (or `--transport softroce|softroce-udp|tcp`). See cli/demo/run.ts for what it does and its flags.
 */
import { processIo } from './io.js';
import { runDemo } from './demo/run.js';

const code = await runDemo(process.argv.slice(2), processIo());
process.stdout.write('', () => {
  process.exit(code);
});
