/**
 * The Verbs contract on soft-RoCE over real UDP sockets on loopback (127.0.0.1 ↔ 127.0.0.2), in real time.
 */
import { verbsContract } from '../../../support/verbs-contract.js';
import { makeUdpEnv } from './udp-env.js';

verbsContract('softroce (UDP loopback)', () => makeUdpEnv());
