/**
 * An export: a named {@link BlockDevice} with its NBD size constraints and transmission flags, checked once when
 * it is added so that the handshake only ever advertises values the spec allows.
 */
import type { BlockDevice } from './block-device.js';
import { NBD_PORTABLE_MAX_PAYLOAD, TransmissionFlag } from './constants.js';
import { NbdServerError } from './errors.js';
import { isNbdString } from './strings.js';
import type { BlockSizes } from './wire.js';

/** How an export is described when it is added to a server. */
export interface NbdExportOptions {
  /** Export name clients ask for (UTF-8, no NUL, at most 4096 bytes). */
  readonly name: string;
  /** Human-readable description (NBD_INFO_DESCRIPTION and NBD_OPT_LIST). */
  readonly description?: string;
  /** The device served. */
  readonly device: BlockDevice;
  /** Largest read or write payload accepted (default 32 MiB, rounded down to whole blocks). */
  readonly maxPayload?: number;
  /** Preferred block size advertised (default the larger of the block size and 4096). */
  readonly preferredBlockSize?: number;
  /**
   * Advertise NBD_FLAG_CAN_MULTI_CONN. Only safe when the device has no cache, or one shared by every
   * connection, so a FLUSH on one connection covers writes made on another. Default false.
   */
  readonly multiConn?: boolean;
}

/** A checked export, as a server holds it. */
export interface NbdExport {
  /** Export name. */
  readonly name: string;
  /** Description ("" for none). */
  readonly description: string;
  /** The device served. */
  readonly device: BlockDevice;
  /** Size constraints advertised with NBD_INFO_BLOCK_SIZE and enforced on every request. */
  readonly blockSizes: BlockSizes;
  /** Whether NBD_FLAG_CAN_MULTI_CONN is advertised. */
  readonly multiConn: boolean;
}

const U64_MAX = (1n << 64n) - 1n;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function invalid(name: string, message: string): never {
  throw new NbdServerError('ERR_NBD_EXPORT', `export "${name}": ${message}`);
}

/** The device's size as a bigint, checked to fit NBD's 64-bit field and the block size. */
export function deviceSize(exp: Pick<NbdExport, 'name' | 'device'>): bigint {
  const raw = exp.device.size;
  if (typeof raw === 'number' && !Number.isSafeInteger(raw)) invalid(exp.name, `size ${raw} is not an integer`);
  const size = BigInt(raw);
  if (size < 0n || size > U64_MAX) invalid(exp.name, `size ${size} does not fit NBD's 64-bit size field`);
  if (size % BigInt(exp.device.blockSize) !== 0n) {
    invalid(exp.name, `size ${size} is not a multiple of the ${exp.device.blockSize}-byte block`);
  }
  return size;
}

/** Checks export options and fills in the size constraints (proto.md "Size constraints"). */
export function createExport(options: NbdExportOptions): NbdExport {
  const { name, device } = options;
  if (!isNbdString(name)) invalid(name, 'the name must be UTF-8 without NUL, at most 4096 bytes');
  const description = options.description ?? '';
  if (!isNbdString(description)) invalid(name, 'the description must be UTF-8 without NUL, at most 4096 bytes');
  const minimum = device.blockSize;
  if (!isPowerOfTwo(minimum) || minimum > 65536) {
    invalid(name, `block size ${minimum} must be a power of two from 1 to 65536`);
  }
  const preferred = options.preferredBlockSize ?? Math.max(minimum, 4096);
  if (!isPowerOfTwo(preferred) || preferred < Math.max(minimum, 512)) {
    invalid(name, `preferred block size ${preferred} must be a power of two, at least the block size and 512`);
  }
  const requested = options.maxPayload ?? NBD_PORTABLE_MAX_PAYLOAD;
  const maximum = requested - (requested % minimum);
  if (!Number.isSafeInteger(requested) || maximum < preferred || maximum > 0xffff_ffff) {
    invalid(name, `maximum payload ${requested} must be whole blocks, at least ${preferred} and below 4 GiB`);
  }
  const exp: NbdExport = {
    name,
    description,
    device,
    blockSizes: { minimum, preferred, maximum },
    multiConn: options.multiConn ?? false,
  };
  deviceSize(exp);
  return exp;
}

/** The transmission flags an export advertises. */
export function transmissionFlags(exp: NbdExport): number {
  let flags = TransmissionFlag.HAS_FLAGS | TransmissionFlag.SEND_FLUSH;
  if (exp.device.readOnly) {
    flags |= TransmissionFlag.READ_ONLY;
  } else {
    flags |= TransmissionFlag.SEND_FUA | TransmissionFlag.SEND_TRIM | TransmissionFlag.SEND_WRITE_ZEROES;
  }
  if (exp.multiConn) flags |= TransmissionFlag.CAN_MULTI_CONN;
  return flags;
}
