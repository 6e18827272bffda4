/**
 * Test helper: reads CM fields the way Linux does (`include/rdma/iba.h` IBA_FIELD*_LOC / IBA_FIELD_BLOC with the
 * `ibta_vol1_c12.h` locations, offset by the 24-byte MAD header), independently of our codecs, so tests can hold
 * our byte layout against the kernel's table.
 */

/** A field location in the notation of `ibta_vol1_c12.h`. */
export type IbaLocation =
  | { readonly loc: 'BLOC'; readonly byte: number; readonly bit: number; readonly width: number }
  | { readonly loc: 8 | 16 | 32; readonly byte: number; readonly width: number }
  | { readonly loc: 64; readonly byte: number }
  | { readonly loc: 'MLOC'; readonly byte: number; readonly bytes: number };

/** `CM_FIELD_BLOC(struct, byte, bit, width)`. */
export const bloc = (byte: number, bit: number, width: number): IbaLocation => ({ loc: 'BLOC', byte, bit, width });
/** `CM_FIELD8_LOC(struct, byte, width)`. */
export const f8 = (byte: number, width: number): IbaLocation => ({ loc: 8, byte, width });
/** `CM_FIELD16_LOC(struct, byte, width)`. */
export const f16 = (byte: number, width: number): IbaLocation => ({ loc: 16, byte, width });
/** `CM_FIELD32_LOC(struct, byte, width)`. */
export const f32 = (byte: number, width: number): IbaLocation => ({ loc: 32, byte, width });
/** `CM_FIELD64_LOC(struct, byte)`. */
export const f64 = (byte: number): IbaLocation => ({ loc: 64, byte });
/** `CM_FIELD_MLOC(struct, byte, bits, type)`, given in bytes. */
export const mloc = (byte: number, bytes: number): IbaLocation => ({ loc: 'MLOC', byte, bytes });

const MAD_HEADER = 24;

function masked(word: number, high: number, low: number): number {
  // GENMASK(high, low) then FIELD_GET.
  const width = high - low + 1;
  return Math.floor(word / 2 ** low) % 2 ** width;
}

/** IBA_GET for one location of a CM message inside a 256-byte MAD. */
export function ibaGet(mad: Buffer, where: IbaLocation): number | bigint | Buffer {
  const at = where.byte + MAD_HEADER;
  switch (where.loc) {
    case 'BLOC':
      return masked(mad[at] ?? 0, 7 - where.bit, 7 - where.bit - (where.width - 1));
    case 8:
      return masked(mad[at] ?? 0, 7, 8 - where.width);
    case 16: {
      const base = (where.byte & 0xfffe) + MAD_HEADER;
      const high = 15 - (where.byte % 2) * 8;
      return masked(mad.readUInt16BE(base), high, high - (where.width - 1));
    }
    case 32: {
      const base = (where.byte & 0xfffc) + MAD_HEADER;
      const high = 31 - (where.byte % 4) * 8;
      return masked(mad.readUInt32BE(base), high, high - (where.width - 1));
    }
    case 64:
      return mad.readBigUInt64BE(at);
    case 'MLOC':
      return mad.subarray(at, at + where.bytes);
  }
}

/** A row of a layout table: the Linux field name, its location, and the value our model holds for it. */
export type LayoutRow<M> = readonly [
  name: string,
  where: IbaLocation,
  value: (msg: M) => number | bigint | boolean | Buffer,
];

/** Normalizes what a model holds to what IBA_GET returns (booleans are 1-bit fields). */
export function asIba(value: number | bigint | boolean | Buffer): number | bigint | Buffer {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
