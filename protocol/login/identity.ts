/** Checks on the fields that identify a login's session and connection (ISID, RFC 7143 §11.12.5). */
import type { Isid } from '../pdu/isid.js';

/** True when two ISIDs are the same. */
export function sameIsid(a: Isid, b: Isid): boolean {
  return a.type === b.type && a.a === b.a && a.b === b.b && a.c === b.c && a.d === b.d;
}

/** True when every ISID field fits its width: T 2 bits, A 6, B 16, C 8, D 16. */
export function isidInRange(isid: Isid): boolean {
  const fields: readonly (readonly [number, number])[] = [
    [isid.type, 0x3],
    [isid.a, 0x3f],
    [isid.b, 0xffff],
    [isid.c, 0xff],
    [isid.d, 0xffff],
  ];
  return fields.every(([value, max]) => Number.isInteger(value) && value >= 0 && value <= max);
}
