/** The session suite against our own target over iSER on the in-memory RDMA fabric (sim/fabric), in virtual time. */
import { startOursIserSimFixture } from '../support/session-suite/fixtures/ours-iser-sim.js';
import { sessionSuite } from '../support/session-suite/suite.js';

sessionSuite('session suite: our initiator → our target over iSER (sim/fabric)', startOursIserSimFixture);
