/**
 * `iser inq <url>`: standard INQUIRY data and the vital product data pages, each line `Key:Value` as iscsi-inq
 * prints them. By default the standard data and then every supported VPD page this tool decodes; `--page CODE`
 * shows one page, `--standard` only the standard data.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { Lun } from '../../protocol/initiator/lun.js';
import type { StandardInquiry } from '../../protocol/scsi/data/inquiry.js';
import {
  decodeBlockDeviceCharacteristics,
  decodeBlockLimits,
  decodeDeviceIdentification,
  decodeLogicalBlockProvisioning,
  decodeSupportedVpdPages,
  decodeUnitSerialNumber,
  decodeVpdHeader,
  VpdPage,
  type Designator,
} from '../../protocol/scsi/data/vpd.js';
import { addConnectOptions, loginPlan, type ConnectFlags } from '../connect-options.js';
import type { CommandContext } from '../context.js';
import { deviceTypeName, qualifierName, versionDescriptorName, versionName, vpdPageName } from '../scsi-names.js';
import { bounded, withLun } from '../session.js';

interface InqFlags extends ConnectFlags {
  readonly page?: number;
  readonly standard?: boolean;
}

const bit = (value: boolean): string => (value ? '1' : '0');

/** Standard INQUIRY data, line for line as iscsi-inq prints it (its `ReponseDataFormat` spelling included). */
export function standardInquiryLines(inq: StandardInquiry): string[] {
  return [
    `Peripheral Qualifier:${qualifierName(inq.qualifier)}`,
    `Peripheral Device Type:${deviceTypeName(inq.deviceType)}`,
    `Removable:${bit(inq.removable)}`,
    `Version:${inq.version} ${versionName(inq.version)}`,
    `NormACA:${bit(inq.normaca)}`,
    `HiSup:${bit(inq.hisup)}`,
    `ReponseDataFormat:${inq.responseDataFormat}`,
    `SCCS:${bit(inq.sccs)}`,
    `ACC:${bit(inq.acc)}`,
    `TPGS:${inq.tpgs}`,
    `3PC:${bit(inq.thirdPartyCopy)}`,
    `Protect:${bit(inq.protect)}`,
    `EncServ:${bit(inq.encserv)}`,
    `MultiP:${bit(inq.multip)}`,
    `CmdQue:${bit(inq.cmdque)}`,
    `Vendor:${inq.vendor}`,
    `Product:${inq.product}`,
    `Revision:${inq.revision}`,
    ...inq.versionDescriptors.map(
      (d) => `Version Descriptor:${d.toString(16).padStart(4, '0')} ${versionDescriptorName(d)}`,
    ),
  ];
}

const ASSOCIATIONS = ['LOGICAL_UNIT', 'TARGET_PORT', 'TARGET_DEVICE'];
const DESIGNATOR_TYPES = [
  'VENDOR_SPECIFIC',
  'T10_VENDORID',
  'EUI_64',
  'NAA',
  'RELATIVE_PORT',
  'TARGET_PORT_GROUP',
  'LOGICAL_UNIT_GROUP',
  'MD5_LOGICAL_UNIT_IDENTIFIER',
  'SCSI_NAME_STRING',
];

function designatorText(d: Designator): string {
  const printable = d.codeSet === 2 || d.codeSet === 3;
  const value = printable
    ? d.designator.toString(d.codeSet === 3 ? 'utf8' : 'latin1').replace(/\0+$/u, '')
    : d.designator.toString('hex');
  const association = ASSOCIATIONS[d.association] ?? String(d.association);
  const type = DESIGNATOR_TYPES[d.designatorType] ?? `0x${d.designatorType.toString(16)}`;
  return `Designator:${association} ${type} ${value}`;
}

/** One VPD page, decoded where this tool knows it, else its bytes in hex. */
export function vpdLines(page: number, data: Buffer): string[] {
  switch (page) {
    case VpdPage.SupportedPages:
      return decodeSupportedVpdPages(data).map((p) => `Page:0x${p.toString(16).padStart(2, '0')} ${vpdPageName(p)}`);
    case VpdPage.UnitSerialNumber:
      return [`Unit Serial Number:[${decodeUnitSerialNumber(data)}]`];
    case VpdPage.DeviceIdentification:
      return decodeDeviceIdentification(data).map(designatorText);
    case VpdPage.BlockLimits: {
      const l = decodeBlockLimits(data);
      return [
        `wsnz:${bit(l.wsnz)}`,
        `maximum compare and write length:${l.maxCompareAndWriteLength}`,
        `optimal transfer length granularity:${l.optimalTransferLengthGranularity}`,
        `maximum transfer length:${l.maxTransferLength}`,
        `optimal transfer length:${l.optimalTransferLength}`,
        `maximum prefetch xdread xdwrite transfer length:${l.maxPrefetchLength}`,
        `maximum unmap lba count:${l.maxUnmapLbaCount}`,
        `maximum unmap block descriptor count:${l.maxUnmapBlockDescriptorCount}`,
        `optimal unmap granularity:${l.optimalUnmapGranularity}`,
        `ugavalid:${bit(l.unmapGranularityAlignmentValid)}`,
        `unmap granularity alignment:${l.unmapGranularityAlignment}`,
        `maximum write same length:${l.maxWriteSameLength}`,
      ];
    }
    case VpdPage.BlockDeviceCharacteristics: {
      const c = decodeBlockDeviceCharacteristics(data);
      return [
        `Medium Rotation Rate:${c.mediumRotationRate === 1 ? '1 (non-rotating medium)' : c.mediumRotationRate}`,
        `Product Type:${c.productType}`,
        `Nominal Form Factor:${c.nominalFormFactor}`,
        `FUAB:${bit(c.fuab)}`,
        `VBULS:${bit(c.vbuls)}`,
      ];
    }
    case VpdPage.LogicalBlockProvisioning: {
      const p = decodeLogicalBlockProvisioning(data);
      return [
        `Threshold Exponent:${p.thresholdExponent}`,
        `lbpu:${bit(p.lbpu)}`,
        `lbpws:${bit(p.lbpws)}`,
        `lbpws10:${bit(p.lbpws10)}`,
        `lbprz:${bit(p.lbprz)}`,
        `anc_sup:${bit(p.anchorSupported)}`,
        `dp:${bit(p.dp)}`,
        `provisioning type:${p.provisioningType}`,
      ];
    }
    default: {
      const header = decodeVpdHeader(data);
      return [
        `Page 0x${page.toString(16).padStart(2, '0')}:${data.subarray(4, 4 + header.pageLength).toString('hex')}`,
      ];
    }
  }
}

function pageValue(text: string): number {
  const n = /^(0x[0-9a-f]{1,2}|\d{1,3})$/iu.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new InvalidArgumentError('expected a page code 0..255 or 0x00..0xff');
  return n;
}

async function printInquiry(lun: Lun, flags: InqFlags, ctx: CommandContext, timeoutMs: number): Promise<void> {
  if (flags.page !== undefined) {
    for (const line of vpdLines(flags.page, await bounded(lun.vpd(flags.page), timeoutMs, 'INQUIRY'))) ctx.io.out(line);
    return;
  }
  for (const line of standardInquiryLines(await bounded(lun.inquiry(), timeoutMs, 'INQUIRY'))) ctx.io.out(line);
  if (flags.standard === true) return;
  const supported = decodeSupportedVpdPages(await bounded(lun.vpd(VpdPage.SupportedPages), timeoutMs, 'INQUIRY'));
  for (const page of supported) {
    ctx.io.out('');
    ctx.io.out(`VPD Page:0x${page.toString(16).padStart(2, '0')} ${vpdPageName(page)}`);
    const data = page === VpdPage.SupportedPages ? undefined : await bounded(lun.vpd(page), timeoutMs, 'INQUIRY');
    const lines =
      data === undefined
        ? supported.map((p) => `Page:0x${p.toString(16).padStart(2, '0')} ${vpdPageName(p)}`)
        : vpdLines(page, data);
    for (const line of lines) ctx.io.out(line);
  }
}

/** The `inq` command. */
export function inqCommand(ctx: CommandContext): Command {
  const command = new Command('inq')
    .description('standard INQUIRY data and vital product data pages (like iscsi-inq)')
    .argument('<url>', 'iscsi://[user[%password]@]host[:port]/target-iqn/lun')
    .option('-c, --page <code>', 'show only this VPD page (e.g. 0x80)', pageValue)
    .option('--standard', 'show only the standard INQUIRY data');
  addConnectOptions(command);
  return command.action(async (text: string, flags: InqFlags) => {
    const plan = await loginPlan(text, flags);
    ctx.addSecrets(plan.secrets);
    await withLun(plan, ctx, (lun) => printInquiry(lun, flags, ctx, plan.commandTimeoutMs));
  });
}
