/**
 * The target's configuration model: target nodes (name, alias, LUN map), portal groups and their portals,
 * initiator ACLs, CHAP accounts (one-way and mutual), discovery settings and session limits. Plain data: the
 * server builds it from a CLI or a file, `validateTargetConfig` checks it, and the login policy and SendTargets
 * answers are derived from it.
 */
import type { ChapSecret } from '../login/chap.js';
import type { BlockBackend } from '../scsi/backend.js';
import type { UnitIdentity, UnitLimits } from '../scsi/target/unit-config.js';
import type { NegotiationConfig, TransportKind } from '../text/index.js';

/** One logical unit of a target. */
export interface LunConfig {
  /** LUN number (0..16383). */
  readonly lun: number;
  /** The storage. */
  readonly backend: BlockBackend;
  /** Refuse writes (DATA PROTECT). */
  readonly readOnly?: boolean;
  /** INQUIRY identity overrides (serial number, vendor...). */
  readonly identity?: Partial<UnitIdentity>;
  /** Block limits overrides. */
  readonly limits?: Partial<UnitLimits>;
}

/** A CHAP name and secret. */
export interface ChapAccount {
  /** CHAP_N. */
  readonly user: string;
  /** The shared secret (never logged). */
  readonly secret: ChapSecret;
}

/** CHAP settings of a target (or of discovery). Present means authentication is required. */
export interface ChapConfig {
  /** The accounts an initiator may authenticate as (one-way CHAP). */
  readonly accounts: readonly ChapAccount[];
  /** The target's own name and secret, for initiators that ask the target to authenticate too (mutual CHAP). */
  readonly mutual?: ChapAccount;
  /** Refuse logins that do not authenticate the target too (needs `mutual`). */
  readonly requireMutual?: boolean;
  /** CHAP_A algorithms accepted, in order of preference (default 8, 7, 6, 5). */
  readonly algorithms?: readonly number[];
}

/** Which initiators may log in: any, or those named. */
export type InitiatorAcl = 'any' | readonly string[];

/** One iSCSI target node. */
export interface TargetNodeConfig {
  /** The target's iSCSI name (iqn., eui. or naa.). */
  readonly name: string;
  /** TargetAlias. */
  readonly alias?: string;
  /** Its logical units. */
  readonly luns: readonly LunConfig[];
  /** Initiators allowed to log in (default any). */
  readonly acl?: InitiatorAcl;
  /** CHAP; without it no authentication is asked for. */
  readonly chap?: ChapConfig;
  /** Tags of the portal groups it is reachable through (default all). */
  readonly portalGroups?: readonly number[];
  /** Negotiation preferences for its sessions. */
  readonly negotiation?: NegotiationConfig;
  /** Commands each session may queue (overrides the server's). */
  readonly queueDepth?: number;
}

/** A network portal. */
export interface PortalConfig {
  /** Address to listen on (0.0.0.0 or :: for all). */
  readonly host: string;
  /** Port (0 picks a free one, for tests). */
  readonly port: number;
  /** iSCSI over TCP (default) or iSER. */
  readonly transport?: TransportKind;
}

/** A target portal group (RFC 7143 §4.4.1): portals a session's connections may share. */
export interface PortalGroupConfig {
  /** TargetPortalGroupTag (0..65535). */
  readonly tag: number;
  /** Its portals. */
  readonly portals: readonly PortalConfig[];
}

/** Discovery sessions (SendTargets). */
export interface DiscoveryConfig {
  /** Allow discovery sessions (default true). */
  readonly enabled?: boolean;
  /** Initiators allowed to discover (default any). */
  readonly acl?: InitiatorAcl;
  /** CHAP for discovery sessions (default none). */
  readonly chap?: ChapConfig;
}

/** Everything a target server serves. */
export interface TargetConfig {
  /** Target nodes. */
  readonly targets: readonly TargetNodeConfig[];
  /** Portal groups. */
  readonly portalGroups: readonly PortalGroupConfig[];
  /** Discovery settings. */
  readonly discovery?: DiscoveryConfig;
  /** Commands each session may queue (MaxCmdSN - ExpCmdSN + 1 at most; default 32). */
  readonly queueDepth?: number;
  /** Idle time before a NOP-In ping, in ms (0, the default, turns keepalive off). */
  readonly nopInIntervalMs?: number;
  /** How long a NOP-In ping may go unanswered, in ms (default 15000). */
  readonly nopInTimeoutMs?: number;
  /** Most sessions at once (default 1024; at most 65535, the TSIH space). */
  readonly maxSessions?: number;
  /** Accept CHAP secrets under 96 bits (interop testing only). */
  readonly allowShortChapSecrets?: boolean;
}
