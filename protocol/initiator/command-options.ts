/** What a raw SCSI command needs besides its CDB. */

/** Data directions and attribute of one command. */
export interface CommandOptions {
  /** Bytes of data-in expected (a read). */
  readonly read?: number;
  /** Data-out (a write). */
  readonly write?: Buffer | readonly Buffer[];
  /** SAM task attribute (default Simple). */
  readonly attribute?: number;
}
