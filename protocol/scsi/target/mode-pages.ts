/**
 * The mode pages of a direct-access logical unit and what MODE SELECT may change in them: caching (08h, WCE),
 * control (0Ah, D_SENSE and SWP) and informational exceptions (1Ch, nothing). Parameters are shared by all
 * I_T nexuses and cannot be saved. MODE SELECT is checked whole before anything changes, and every refused bit
 * is reported with a field pointer into the parameter list.
 */
import { decodeModeParameters, type LocatedModePage, ModePageCode, type ModePage } from '../data/mode.js';
import { ScsiDecodeError } from '../errors.js';
import { invalidFieldInParameterList, parameterListLengthError } from './conditions.js';

/** A page's default bytes (after the header) and the mask of bits MODE SELECT may change. */
interface PageDefinition {
  readonly code: number;
  readonly defaults: readonly number[];
  readonly changeable: readonly number[];
}

const CACHING: PageDefinition = {
  code: ModePageCode.Caching,
  // WCE=1: writes complete in the (page) cache; FUA and SYNCHRONIZE CACHE make them durable.
  defaults: [0x04, ...new Array<number>(17).fill(0)],
  changeable: [0x04, ...new Array<number>(17).fill(0)],
};

const CONTROL: PageDefinition = {
  code: ModePageCode.Control,
  // GLTSD=1 (no log parameters saved); QUEUE ALGORITHM MODIFIER 1 (unrestricted reordering);
  // BUSY TIMEOUT PERIOD unlimited. D_SENSE and SWP may be changed.
  defaults: [0x02, 0x10, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00],
  changeable: [0x04, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
};

const INFORMATIONAL_EXCEPTIONS: PageDefinition = {
  code: ModePageCode.InformationalExceptions,
  // DEXCPT=1: no informational exception reporting.
  defaults: [0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0],
  changeable: new Array<number>(10).fill(0),
};

/** Pages in ascending page code order (the order "all pages" returns them). */
const PAGES: readonly PageDefinition[] = [CACHING, CONTROL, INFORMATIONAL_EXCEPTIONS];

/** Which values MODE SENSE reports (the PC field; "saved" is refused before getting here). */
export type PageValues = 'current' | 'changeable' | 'default';

/** What a MODE SELECT parameter list must agree with besides the pages. */
export interface ModeSelectContext {
  /** 6 or 10: which header the list starts with. */
  readonly cdbLength: 6 | 10;
  /** The unit's block count (a block descriptor may repeat it, or say 0). */
  readonly blockCount: number;
  /** The unit's block size (a block descriptor must repeat it). */
  readonly blockSize: number;
}

/** Mode parameters of one logical unit. */
export class ModePages {
  private readonly current = new Map<number, Buffer>();

  constructor() {
    this.reset();
  }

  /** WCE of the caching page: when false every write is forced to media (write-through). */
  get writeCacheEnabled(): boolean {
    return (this.byte(ModePageCode.Caching, 0) & 0x04) !== 0;
  }

  /** D_SENSE of the control page: sense data in descriptor format. */
  get descriptorSense(): boolean {
    return (this.byte(ModePageCode.Control, 0) & 0x04) !== 0;
  }

  /** SWP of the control page: software write protect. */
  get softwareWriteProtect(): boolean {
    return (this.byte(ModePageCode.Control, 2) & 0x08) !== 0;
  }

  /** Back to the defaults (what a reset does to mode parameters that cannot be saved). */
  reset(): void {
    for (const page of PAGES) this.current.set(page.code, Buffer.from(page.defaults));
  }

  /** True when MODE SENSE knows `pageCode` (3Fh included). */
  static has(pageCode: number): boolean {
    return pageCode === ModePageCode.AllPages || PAGES.some((p) => p.code === pageCode);
  }

  /** The pages MODE SENSE returns for `pageCode` (3Fh: all), with the values asked for. */
  pages(pageCode: number, values: PageValues): ModePage[] {
    return PAGES.filter((p) => pageCode === ModePageCode.AllPages || p.code === pageCode).map((p) => ({
      pageCode: p.code,
      subpageCode: 0,
      spf: false,
      ps: false,
      data: Buffer.from(
        values === 'changeable' ? p.changeable : values === 'default' ? p.defaults : (this.current.get(p.code) ?? []),
      ),
    }));
  }

  /**
   * Applies a MODE SELECT parameter list. Throws a CHECK CONDITION `ScsiStatusError` (PARAMETER LIST
   * LENGTH ERROR, or INVALID FIELD IN PARAMETER LIST with a pointer) and changes nothing when any part is
   * refused. Returns true when a value changed.
   */
  select(list: Buffer, context: ModeSelectContext): boolean {
    const { cdbLength } = context;
    let parsed;
    try {
      parsed = decodeModeParameters(list, cdbLength, true);
    } catch (err) {
      if (!(err instanceof ScsiDecodeError)) throw err;
      if (err.code === 'ERR_SCSI_TRUNCATED') throw parameterListLengthError();
      throw invalidFieldInParameterList(cdbLength === 6 ? 3 : 6); // BLOCK DESCRIPTOR LENGTH
    }
    if (parsed.truncated) throw parameterListLengthError();
    if (parsed.mediumType !== 0) throw invalidFieldInParameterList(cdbLength === 6 ? 1 : 2);
    const headerLength = cdbLength === 6 ? 4 : 8;
    if (parsed.blockDescriptors.length > 1) throw invalidFieldInParameterList(cdbLength === 6 ? 3 : 6);
    const descriptor = parsed.blockDescriptors[0];
    if (descriptor !== undefined) {
      const capacity = BigInt(context.blockCount);
      const short = !parsed.longLba;
      const fits =
        descriptor.blocks === 0n ||
        descriptor.blocks === capacity ||
        (short && descriptor.blocks === 0xffff_ffffn && capacity > 0xffff_ffffn);
      if (!fits) throw invalidFieldInParameterList(headerLength);
      if (descriptor.blockLength !== context.blockSize)
        throw invalidFieldInParameterList(headerLength + (short ? 5 : 12));
    }
    const updates = new Map<number, Buffer>();
    for (const page of parsed.pages) {
      const definition = this.check(page);
      updates.set(definition.code, page.data);
    }
    let changed = false;
    for (const [code, data] of updates) {
      const before = this.current.get(code);
      if (before !== undefined && !before.equals(data)) changed = true;
      this.current.set(code, Buffer.from(data));
    }
    return changed;
  }

  /** Checks one page of a MODE SELECT list against its definition and the current values. */
  private check(page: LocatedModePage): PageDefinition {
    if (page.spf) throw invalidFieldInParameterList(page.offset, 6);
    const definition = PAGES.find((p) => p.code === page.pageCode);
    if (definition === undefined) throw invalidFieldInParameterList(page.offset, 5);
    if (page.data.length !== definition.defaults.length) throw invalidFieldInParameterList(page.offset + 1);
    const current = this.current.get(definition.code) ?? Buffer.from(definition.defaults);
    for (let i = 0; i < page.data.length; i++) {
      const refused = (page.data.readUInt8(i) ^ current.readUInt8(i)) & ~(definition.changeable[i] ?? 0) & 0xff;
      if (refused !== 0) throw invalidFieldInParameterList(page.offset + 2 + i, 31 - Math.clz32(refused));
    }
    return definition;
  }

  private byte(code: number, index: number): number {
    return this.current.get(code)?.readUInt8(index) ?? 0;
  }
}
