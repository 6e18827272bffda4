/**
 * The Verbs contract on soft-RoCE over real UDP sockets on loopback (127.x.y.1 ↔ 127.x.y.2, a random net per environment), in real time.
 */
import { verbsContract } from '../../../support/verbs-contract.js';
import { makeUdpEnv } from './udp-env.js';

verbsContract('softroce (UDP loopback)', () => makeUdpEnv());
