/**
 * Pure parsers for what libiscsi's small tools print (libiscsi 1.19 utils/iscsi-ls.c, iscsi-inq.c,
 * iscsi-readcapacity16.c). Kept apart from the code that runs the tools so they can be tested on captured output.
 */
import { PeerError, PeerErrorCode } from './errors.js';

/** A LUN as `iscsi-ls -s` reports it. */
export interface LsLun {
  readonly lun: number;
  /** libiscsi's device type name, e.g. `DIRECT_ACCESS`, `STORAGE_ARRAY_CONTROLLER`. */
  readonly type: string;
  /** The size as printed, e.g. `63M` (libiscsi rounds down to whole units), when the LUN has one. */
  readonly sizeText?: string;
}

/** A target as `iscsi-ls` reports it (one entry per target and portal). */
export interface LsTarget {
  readonly name: string;
  /** `host:port`. */
  readonly portal: string;
  /** Target portal group tag (after the comma). */
  readonly tpgt: number;
  /** Filled with `-s` (show LUNs). */
  readonly luns: readonly LsLun[];
}

/** Parses `iscsi-ls [-s]` output. */
export function parseIscsiLs(stdout: string): LsTarget[] {
  const targets: { name: string; portal: string; tpgt: number; luns: LsLun[] }[] = [];
  for (const line of lines(stdout)) {
    const t = /^Target:(\S+) Portal:(\S+),(\d+)$/.exec(line);
    if (t !== null) {
      targets.push({ name: t[1]!, portal: t[2]!, tpgt: Number(t[3]), luns: [] });
      continue;
    }
    const l = /^Lun:(\d+)\s+Type:(\S+)(?: \(Size:(\S+)\))?/.exec(line);
    const current = targets.at(-1);
    if (l !== null && current !== undefined) {
      const lun: LsLun = { lun: Number(l[1]), type: l[2]! };
      current.luns.push(l[3] === undefined ? lun : { ...lun, sizeText: l[3] });
      continue;
    }
    throw new PeerError(PeerErrorCode.Parse, `iscsi-ls: unexpected line ${JSON.stringify(line)}`);
  }
  return targets;
}

/** Parses `iscsi-ls --url` output: one URL a line. */
export function parseIscsiLsUrls(stdout: string): string[] {
  const urls = lines(stdout);
  const bad = urls.find((u) => !u.startsWith('iscsi://') && !u.startsWith('iser://'));
  if (bad !== undefined) throw new PeerError(PeerErrorCode.Parse, `iscsi-ls --url: not a URL: ${bad}`);
  return urls;
}

/** READ CAPACITY (16) as `iscsi-readcapacity16` prints it. */
export interface ReadCapacity16 {
  readonly returnedLba: bigint;
  readonly blockLength: number;
  readonly pType: number;
  readonly protEn: number;
  readonly pIExponent: number;
  /** Logical blocks per physical block, as an exponent of 2. */
  readonly lbppbExponent: number;
  readonly lbpme: number;
  readonly lbprz: number;
  readonly lowestAlignedLba: number;
  /** blockLength × (returnedLba + 1), as the tool computes it. */
  readonly totalBytes: bigint;
}

/** Parses `iscsi-readcapacity16` (without `-s`) output. */
export function parseReadCapacity16(stdout: string): ReadCapacity16 {
  const text = stdout;
  const num = (re: RegExp, what: string): string => {
    const m = re.exec(text);
    if (m?.[1] === undefined) throw new PeerError(PeerErrorCode.Parse, `iscsi-readcapacity16: no ${what} in output`);
    return m[1];
  };
  return {
    returnedLba: BigInt(num(/^RETURNED LOGICAL BLOCK ADDRESS:(\d+)$/m, 'LBA')),
    blockLength: Number(num(/^LOGICAL BLOCK LENGTH IN BYTES:(\d+)$/m, 'block length')),
    pType: Number(num(/^P_TYPE:(\d+) /m, 'P_TYPE')),
    protEn: Number(num(/ PROT_EN:(\d+)$/m, 'PROT_EN')),
    pIExponent: Number(num(/^P_I_EXPONENT:(\d+) /m, 'P_I_EXPONENT')),
    lbppbExponent: Number(num(/LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:(\d+)$/m, 'LBPPBE')),
    lbpme: Number(num(/^LBPME:(\d+) /m, 'LBPME')),
    lbprz: Number(num(/ LBPRZ:(\d+)$/m, 'LBPRZ')),
    lowestAlignedLba: Number(num(/^LOWEST ALIGNED LOGICAL BLOCK ADDRESS:(\d+)$/m, 'LALBA')),
    totalBytes: BigInt(num(/^Total size:(\d+)$/m, 'total size')),
  };
}

/** Parses `iscsi-readcapacity16 -s` output: the size in bytes. */
export function parseReadCapacitySize(stdout: string): bigint {
  const m = /^(\d+)$/m.exec(stdout.trim());
  if (m?.[1] === undefined) throw new PeerError(PeerErrorCode.Parse, `iscsi-readcapacity16 -s: ${stdout.trim()}`);
  return BigInt(m[1]);
}

/** `Key:Value` lines as iscsi-inq prints them, in order; a key may repeat (Version Descriptor). */
export type InquiryFields = readonly (readonly [key: string, value: string])[];

/** Standard INQUIRY data as `iscsi-inq` prints it. */
export interface StandardInquiry {
  /** e.g. `CONNECTED`. */
  readonly peripheralQualifier: string;
  /** e.g. `DIRECT_ACCESS`. */
  readonly peripheralDeviceType: string;
  readonly removable: boolean;
  /** The VERSION byte (5 = SPC-3, 6 = SPC-4). */
  readonly version: number;
  readonly hiSup: boolean;
  readonly responseDataFormat: number;
  readonly tpgs: number;
  readonly threePc: boolean;
  readonly protect: boolean;
  readonly cmdQue: boolean;
  /** T10 vendor id, trailing spaces removed. */
  readonly vendor: string;
  readonly product: string;
  readonly revision: string;
  /** Version descriptors (e.g. 0x04c0 SBC-3, 0x0960 iSCSI). */
  readonly versionDescriptors: readonly { readonly code: number; readonly name: string }[];
  /** Every line, for what the typed view leaves out. */
  readonly fields: InquiryFields;
}

/** Splits iscsi-inq output into `Key:Value` pairs (at the first colon). */
export function parseInquiryFields(stdout: string): InquiryFields {
  return lines(stdout).map((line) => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new PeerError(PeerErrorCode.Parse, `iscsi-inq: unexpected line ${JSON.stringify(line)}`);
    return [line.slice(0, colon), line.slice(colon + 1)] as const;
  });
}

/** Parses `iscsi-inq` (standard INQUIRY) output. */
export function parseStandardInquiry(stdout: string): StandardInquiry {
  const fields = parseInquiryFields(stdout);
  const get = (key: string): string => {
    const f = fields.find(([k]) => k === key);
    if (f === undefined) throw new PeerError(PeerErrorCode.Parse, `iscsi-inq: no ${key} in output`);
    return f[1];
  };
  const flag = (key: string): boolean => get(key) === '1';
  return {
    peripheralQualifier: get('Peripheral Qualifier'),
    peripheralDeviceType: get('Peripheral Device Type'),
    removable: flag('Removable'),
    version: Number.parseInt(get('Version'), 10),
    hiSup: flag('HiSup'),
    responseDataFormat: Number(get('ReponseDataFormat')), // sic: libiscsi's spelling
    tpgs: Number(get('TPGS')),
    threePc: flag('3PC'),
    protect: flag('Protect'),
    cmdQue: flag('CmdQue'),
    vendor: get('Vendor').trimEnd(),
    product: get('Product').trimEnd(),
    revision: get('Revision').trimEnd(),
    versionDescriptors: fields
      .filter(([k]) => k === 'Version Descriptor')
      .map(([, v]) => {
        const [code = '', ...name] = v.split(' ');
        return { code: Number.parseInt(code, 16), name: name.join(' ') };
      }),
    fields,
  };
}

/** Parses `iscsi-inq -e 1 -c 0` (Supported VPD pages) output into the page codes. */
export function parseSupportedVpdPages(stdout: string): number[] {
  return parseInquiryFields(stdout)
    .filter(([k]) => k === 'Page')
    .map(([, v]) => Number.parseInt(v.split(' ')[0] ?? '', 16));
}

/** Parses `iscsi-inq -e 1 -c 128` (Unit Serial Number) output; libiscsi keeps the target's padding, we trim it. */
export function parseUnitSerialNumber(stdout: string): string {
  const m = /^Unit Serial Number:\[(.*)\]$/m.exec(stdout);
  if (m?.[1] === undefined) throw new PeerError(PeerErrorCode.Parse, 'iscsi-inq: no Unit Serial Number in output');
  return m[1].trim();
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
}
