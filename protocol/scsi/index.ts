/**
 * SCSI for both sides of the wire: status and sense codes, sense data, CDB builders and decoder, parameter data
 * codecs (initiator), and the SBC-3 target model (`LogicalUnit`, `ScsiTargetDevice`) over a `BlockBackend`.
 * This layer knows nothing about iSCSI PDUs.
 */
export * from './backend.js';
export * from './bytes.js';
export * from './cdb/build.js';
export * from './cdb/decode.js';
export * from './cdb/types.js';
export * from './data/capacity.js';
export * from './data/inquiry.js';
export * from './data/lba-status.js';
export * from './data/mode.js';
export * from './data/persistent-reservation.js';
export * from './data/report-luns.js';
export * from './data/supported-opcodes.js';
export * from './data/unmap.js';
export * from './data/vpd.js';
export * from './errors.js';
export * from './lun.js';
export * from './opcodes.js';
export * from './outcome.js';
export * from './sense-codes.js';
export * from './sense.js';
export * from './status.js';
export * from './target/command-table.js';
export * from './target/device.js';
export * from './target/logical-unit.js';
export * from './target/transfer-lengths.js';
export * from './target/types.js';
export * from './target/unit-config.js';
