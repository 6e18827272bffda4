/** SCSI values spelled as libiscsi's tools spell them, so output can be compared with iscsi-ls / iscsi-inq. */

const DEVICE_TYPES: readonly string[] = [
  'DIRECT_ACCESS',
  'SEQUENTIAL_ACCESS',
  'PRINTER',
  'PROCESSOR',
  'WRITE_ONCE',
  'MMC',
  'SCANNER',
  'OPTICAL_MEMORY',
  'MEDIUM_CHANGER',
  'COMMUNICATIONS',
  'UNKNOWN(0x0a)',
  'UNKNOWN(0x0b)',
  'STORAGE_ARRAY_CONTROLLER',
  'ENCLOSURE_SERVICES',
  'SIMPLIFIED_DIRECT_ACCESS',
  'OPTICAL_CARD_READER',
  'BRIDGE_CONTROLLER',
  'OSD',
  'AUTOMATION',
  'SEQURITY_MANAGER',
];

/** PERIPHERAL DEVICE TYPE as a name (libiscsi's, typo included). */
export function deviceTypeName(type: number): string {
  if (type === 0x1e) return 'WELL_KNOWN_LUN';
  if (type === 0x1f) return 'UNKNOWN';
  return DEVICE_TYPES[type] ?? `UNKNOWN(0x${type.toString(16).padStart(2, '0')})`;
}

/** PERIPHERAL QUALIFIER as a name. */
export function qualifierName(qualifier: number): string {
  switch (qualifier) {
    case 0:
      return 'CONNECTED';
    case 1:
      return 'DISCONNECTED';
    case 3:
      return 'NOT_SUPPORTED';
    default:
      return `UNKNOWN(${qualifier})`;
  }
}

/** The standard a VERSION byte claims. */
export function versionName(version: number): string {
  switch (version) {
    case 0:
      return 'No standard claimed';
    case 3:
      return 'ANSI INCITS 301-1997 (SPC)';
    case 4:
      return 'ANSI INCITS 351-2001 (SPC-2)';
    case 5:
      return 'ANSI INCITS 408-2005 (SPC-3)';
    case 6:
      return 'T10/BSR INCITS 513 (SPC-4)';
    case 7:
      return 'T10/BSR INCITS 503 (SPC-5)';
    default:
      return 'unknown';
  }
}

const DESCRIPTORS: ReadonlyMap<number, string> = new Map([
  [0x0020, 'SAM'],
  [0x0040, 'SAM-2'],
  [0x0060, 'SAM-3'],
  [0x0080, 'SAM-4'],
  [0x00a0, 'SAM-5'],
  [0x0300, 'SPC-3'],
  [0x0460, 'SPC-4'],
  [0x0180, 'SBC'],
  [0x0320, 'SBC-2'],
  [0x04c0, 'SBC-3'],
  [0x04c8, 'SBC-3 ISO'],
  [0x0960, 'iSCSI'],
]);

/** A version descriptor's name (the family when the exact revision is unknown). */
export function versionDescriptorName(code: number): string {
  return DESCRIPTORS.get(code) ?? DESCRIPTORS.get(code & 0xffe0) ?? 'unknown';
}

const VPD_PAGES: ReadonlyMap<number, string> = new Map([
  [0x00, 'SUPPORTED_VPD_PAGES'],
  [0x80, 'UNIT_SERIAL_NUMBER'],
  [0x83, 'DEVICE_IDENTIFICATION'],
  [0x86, 'EXTENDED_INQUIRY_DATA'],
  [0xb0, 'BLOCK_LIMITS'],
  [0xb1, 'BLOCK_DEVICE_CHARACTERISTICS'],
  [0xb2, 'LOGICAL_BLOCK_PROVISIONING'],
]);

/** A VPD page code's name. */
export function vpdPageName(page: number): string {
  return VPD_PAGES.get(page) ?? 'UNKNOWN';
}

/** A byte count as iscsi-ls prints sizes: whole units, rounded down (`63M`, `2G`). */
export function lsSize(bytes: bigint): string {
  const units = ['k', 'M', 'G', 'T', 'P'];
  if (bytes < 1024n) return String(bytes);
  let value = bytes / 1024n;
  let unit = 0;
  while (value >= 1024n && unit < units.length - 1) {
    value /= 1024n;
    unit++;
  }
  return `${value}${units[unit] ?? ''}`;
}
