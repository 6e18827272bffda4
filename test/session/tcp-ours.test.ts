/** The session suite against our own target (server/, MemoryBackend LUNs) over TCP on 127.0.0.1. */
import { startOursTcpFixture } from '../support/session-suite/fixtures/ours-tcp.js';
import { sessionSuite } from '../support/session-suite/suite.js';

sessionSuite('session suite: our initiator → our target over TCP', startOursTcpFixture);
