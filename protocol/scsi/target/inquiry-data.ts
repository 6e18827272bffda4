/**
 * INQUIRY data of a direct-access logical unit: standard data claiming SAM-5, SPC-4, SBC-3 and iSCSI, and the
 * VPD pages 00h, 80h, 83h, B0h, B1h, B2h (SPC-4 §7.8, SBC-3 §6.5). Also the answer for a LUN with no unit
 * behind it (peripheral qualifier 011b, device type 1Fh).
 */
import type { InquiryCdb } from '../cdb/types.js';
import {
  DeviceType,
  encodeStandardInquiry,
  PeripheralQualifier,
  type StandardInquiry,
  VersionDescriptor,
} from '../data/inquiry.js';
import {
  Association,
  CodeSet,
  type Designator,
  DesignatorType,
  encodeBlockDeviceCharacteristics,
  encodeBlockLimits,
  encodeDeviceIdentification,
  encodeLogicalBlockProvisioning,
  encodeSupportedVpdPages,
  encodeUnitSerialNumber,
  ProtocolId,
  ProvisioningType,
  VpdPage,
} from '../data/vpd.js';
import { invalidFieldInCdb } from './conditions.js';
import type { ScsiNexus } from './types.js';
import type { UnitContext } from './unit-context.js';
import { naaDesignator, PROVISIONING, type UnitIdentity } from './unit-config.js';

/** VPD pages served, in ascending order (iscsi-test-cu checks the order). */
const SUPPORTED_VPD_PAGES = [
  VpdPage.SupportedPages,
  VpdPage.UnitSerialNumber,
  VpdPage.DeviceIdentification,
  VpdPage.BlockLimits,
  VpdPage.BlockDeviceCharacteristics,
  VpdPage.LogicalBlockProvisioning,
];

/** Standard INQUIRY data for `identity` with the given peripheral byte fields. */
export function standardInquiry(
  identity: Pick<UnitIdentity, 'vendor' | 'product' | 'revision'>,
  present: boolean,
): Buffer {
  const inq: StandardInquiry = {
    qualifier: present ? PeripheralQualifier.Connected : PeripheralQualifier.NotSupported,
    deviceType: present ? DeviceType.DirectAccess : DeviceType.Unknown,
    removable: false,
    version: 0x06, // SPC-4
    normaca: false,
    hisup: true,
    responseDataFormat: 2,
    sccs: false,
    acc: false,
    tpgs: 0,
    thirdPartyCopy: false,
    protect: false,
    encserv: false,
    multip: false,
    cmdque: true,
    vendor: identity.vendor,
    product: identity.product,
    revision: identity.revision,
    versionDescriptors: [
      VersionDescriptor.Sam5,
      VersionDescriptor.Iscsi,
      VersionDescriptor.Spc4,
      VersionDescriptor.Sbc3,
    ],
  };
  return encodeStandardInquiry(inq);
}

/** The target name inside an iSCSI target port name (`<name>,t,0x<TPGT>`). */
function targetDeviceName(targetPortName: string): string {
  const comma = targetPortName.indexOf(',t,0x');
  return comma === -1 ? targetPortName : targetPortName.slice(0, comma);
}

/** A SCSI name string designator: UTF-8, NUL-terminated, padded to a multiple of 4 (SPC-4 §7.8.6.11). */
function scsiNameString(name: string, association: number): Designator {
  const bytes = Buffer.from(name, 'utf8');
  const length = Math.min(252, (bytes.length + 1 + 3) & ~3);
  const designator = Buffer.alloc(length);
  bytes.copy(designator, 0, 0, Math.min(bytes.length, length - 1));
  return {
    protocolIdentifier: ProtocolId.Iscsi,
    codeSet: CodeSet.Utf8,
    piv: true,
    association,
    designatorType: DesignatorType.ScsiNameString,
    designator,
  };
}

/** The Device Identification designators: the unit's NAA and T10 IDs, then the target port and device names. */
function designators(identity: UnitIdentity, nexus: ScsiNexus): Designator[] {
  const t10 = Buffer.from(identity.vendor.padEnd(8, ' ') + identity.serial, 'latin1');
  const relativePort = Buffer.from([0, 0, 0, 1]);
  return [
    {
      protocolIdentifier: 0,
      codeSet: CodeSet.Binary,
      piv: false,
      association: Association.LogicalUnit,
      designatorType: DesignatorType.Naa,
      designator: naaDesignator(identity),
    },
    {
      protocolIdentifier: 0,
      codeSet: CodeSet.Ascii,
      piv: false,
      association: Association.LogicalUnit,
      designatorType: DesignatorType.T10VendorId,
      designator: t10.subarray(0, 255),
    },
    {
      protocolIdentifier: ProtocolId.Iscsi,
      codeSet: CodeSet.Binary,
      piv: true,
      association: Association.TargetPort,
      designatorType: DesignatorType.RelativeTargetPort,
      designator: relativePort,
    },
    scsiNameString(nexus.targetPortName, Association.TargetPort),
    scsiNameString(targetDeviceName(nexus.targetPortName), Association.TargetDevice),
  ];
}

/** The INQUIRY data `cdb` asks of this unit, before the allocation length cut. */
export function inquiryData(unit: UnitContext, nexus: ScsiNexus, cdb: InquiryCdb): Buffer {
  if (!cdb.evpd) {
    if (cdb.pageCode !== 0) throw invalidFieldInCdb(2);
    return standardInquiry(unit.identity, true);
  }
  switch (cdb.pageCode) {
    case VpdPage.SupportedPages:
      return encodeSupportedVpdPages(SUPPORTED_VPD_PAGES);
    case VpdPage.UnitSerialNumber:
      return encodeUnitSerialNumber(unit.identity.serial);
    case VpdPage.DeviceIdentification:
      return encodeDeviceIdentification(designators(unit.identity, nexus));
    case VpdPage.BlockLimits:
      return encodeBlockLimits({
        wsnz: false,
        maxCompareAndWriteLength: unit.limits.maxCompareAndWriteLength,
        optimalTransferLengthGranularity: Math.min(0xffff, unit.limits.optimalTransferLengthGranularity),
        maxTransferLength: unit.limits.maxTransferLength,
        optimalTransferLength: 0,
        maxPrefetchLength: 0,
        maxUnmapLbaCount: unit.limits.maxUnmapLbaCount,
        maxUnmapBlockDescriptorCount: unit.limits.maxUnmapBlockDescriptorCount,
        optimalUnmapGranularity: unit.limits.optimalUnmapGranularity,
        unmapGranularityAlignmentValid: true,
        unmapGranularityAlignment: 0,
        maxWriteSameLength: BigInt(unit.limits.maxWriteSameLength),
      });
    case VpdPage.BlockDeviceCharacteristics:
      return encodeBlockDeviceCharacteristics({
        mediumRotationRate: 1, // non-rotating
        productType: 0,
        wabereq: 0,
        wacereq: 0,
        nominalFormFactor: 0,
        fuab: false,
        vbuls: false,
      });
    case VpdPage.LogicalBlockProvisioning:
      return encodeLogicalBlockProvisioning({
        thresholdExponent: 0,
        lbpu: PROVISIONING.lbpu,
        lbpws: PROVISIONING.lbpws,
        lbpws10: PROVISIONING.lbpws10,
        lbprz: PROVISIONING.lbprz,
        anchorSupported: false,
        dp: false,
        // Thin when the backend can say what is mapped; otherwise unmapping is zeroing (resource provisioned).
        provisioningType: unit.backend.mapping === undefined ? ProvisioningType.Resource : ProvisioningType.Thin,
      });
    default:
      throw invalidFieldInCdb(2);
  }
}
