#!/usr/bin/env node
/** The `iser` executable: runs the command line on the process's streams and exits with its code. */
import { processIo } from './io.js';
import { runIser } from './program.js';

const code = await runIser(process.argv.slice(2), processIo());
// Exit once stdout has drained: a long listing piped to `head` must not be cut short, nor a timer keep us alive.
process.stdout.write('', () => {
  process.exit(code);
});
