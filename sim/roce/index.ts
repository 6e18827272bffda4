/**
 * The RoCEv2 wire layer as Linux rxe speaks it: transport headers and packets, PSN arithmetic, timer tables,
 * the ICRC, the UDP/IP frame helper, and IB CM MADs on QP1 with rdma_cm and iSER private data. Pure codecs.
 */
export * from './errors.js';
export * from './psn.js';
export * from './bth.js';
export * from './reth.js';
export * from './aeth.js';
export * from './deth.js';
export * from './immediate.js';
export * from './atomic-eth.js';
export * from './feth.js';
export * from './opcodes.js';
export * from './packet.js';
export * from './timers.js';
export * from './crc32.js';
export * from './icrc.js';
export * from './ip-address.js';
export * from './frame.js';
export * from './mad.js';
export * from './cm-private-data.js';
export * from './cm-path.js';
export * from './cm-req.js';
export * from './cm-rep.js';
export * from './cm-rej.js';
export * from './cm-mra.js';
export * from './cm-rtu.js';
export * from './cm-disconnect.js';
export * from './cm-sidr.js';
export * from './cm-mad.js';
export * from './cma-header.js';
export * from './iser-cm-header.js';
export * from './gsi.js';
