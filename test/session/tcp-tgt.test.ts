/** The session suite against Debian tgt (file-backed LUNs, with and without CHAP, digests) over TCP on 127.0.0.1. */
import { startTgtTcpFixture } from '../support/session-suite/fixtures/tgt-tcp.js';
import { sessionSuite } from '../support/session-suite/suite.js';
import { missing } from '../support/tools.js';

sessionSuite('session suite: our initiator → tgt over TCP', startTgtTcpFixture, {
  skip: missing('tgtd', 'apt-get install tgt') ?? missing('tgtadm', 'apt-get install tgt'),
});
