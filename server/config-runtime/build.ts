/**
 * target.yaml (a checked {@link TargetFileConfig}) → the server's {@link TargetConfig}, opening LUN backends. Built
 * against the previous build, so that a reload can be diffed by object: a target whose spec did not change keeps
 * its very node object (IscsiTarget.reconfigure leaves its sessions alone), and a LUN whose backend spec did not
 * change keeps its backend (a replaced target keeps its data). Every portal sits in portal group 1.
 */
import { isDeepStrictEqual } from 'node:util';
import type { TargetFileConfig, TargetSpec } from '../../config/target-config.js';
import type { BlockBackend } from '../../protocol/scsi/backend.js';
import type { ChapConfig, TargetConfig, TargetNodeConfig } from '../../protocol/target/index.js';
import { targetKey } from '../../protocol/target/index.js';
import { TargetServerError } from '../errors.js';

/** The portal group every target.yaml portal belongs to. */
export const FILE_PORTAL_GROUP = 1;

/** Opens a backend from its spec string (backends/spec.ts's openBackend, or a test's). */
export type BackendOpener = (spec: string) => Promise<BlockBackend>;

/** One build: the server configuration and what it was made from. */
export interface BuiltConfig {
  readonly file: TargetFileConfig;
  readonly config: TargetConfig;
  /** Node and spec by target key. */
  readonly nodes: ReadonlyMap<string, { readonly spec: TargetSpec; readonly node: TargetNodeConfig }>;
  /** Backends by `target key, LUN, spec`. */
  readonly backends: ReadonlyMap<string, BlockBackend>;
}

/** What a build opened and what the previous build had that this one no longer uses. */
export interface BuildResult {
  readonly built: BuiltConfig;
  /** Backends opened for this build (close them if the build is not put in force). */
  readonly opened: readonly BlockBackend[];
  /** Backends of the previous build this one dropped (close them once their sessions are gone). */
  readonly dropped: readonly BlockBackend[];
}

function backendKey(iqn: string, lun: number, spec: string): string {
  return `${targetKey(iqn)}\u0000${lun}\u0000${spec}`;
}

function chapOf(spec: Pick<TargetSpec, 'chap' | 'mutualChap'>): ChapConfig | undefined {
  if (spec.chap === undefined) return undefined;
  return { accounts: [spec.chap], ...(spec.mutualChap === undefined ? {} : { mutual: spec.mutualChap }) };
}

function nodeOf(spec: TargetSpec, luns: TargetNodeConfig['luns']): TargetNodeConfig {
  const chap = chapOf(spec);
  return {
    name: spec.iqn,
    luns,
    acl: spec.allowedInitiators,
    negotiation: { headerDigest: spec.headerDigest, dataDigest: spec.dataDigest },
    ...(spec.alias === undefined ? {} : { alias: spec.alias }),
    ...(chap === undefined ? {} : { chap }),
  };
}

/**
 * Builds `file` against `previous`. On failure the backends it opened are closed again and the error is rethrown;
 * nothing of `previous` is touched.
 */
export async function buildTargetConfig(
  file: TargetFileConfig,
  previous: BuiltConfig | undefined,
  open: BackendOpener,
): Promise<BuildResult> {
  const nodes = new Map<string, { spec: TargetSpec; node: TargetNodeConfig }>();
  const backends = new Map<string, BlockBackend>();
  const opened: BlockBackend[] = [];
  try {
    for (const spec of file.targets) {
      const key = targetKey(spec.iqn);
      const before = previous?.nodes.get(key);
      const luns: { lun: number; backend: BlockBackend }[] = [];
      for (const lun of spec.luns) {
        const bKey = backendKey(spec.iqn, lun.lun, lun.backend);
        let backend = previous?.backends.get(bKey);
        if (backend === undefined) {
          try {
            backend = await open(lun.backend);
          } catch (err) {
            const why = err instanceof Error ? err.message : String(err);
            throw new TargetServerError(
              'ERR_SERVER_BACKEND',
              `target ${spec.iqn} LUN ${lun.lun}: cannot open ${lun.backend}: ${why}`,
              { cause: err },
            );
          }
          opened.push(backend);
        }
        backends.set(bKey, backend);
        luns.push({ lun: lun.lun, backend });
      }
      const node = before !== undefined && isDeepStrictEqual(before.spec, spec) ? before.node : nodeOf(spec, luns);
      nodes.set(key, { spec, node });
    }
  } catch (err) {
    await Promise.allSettled(opened.map((b) => b.close?.() ?? Promise.resolve()));
    throw err;
  }
  const discoveryChap = chapOf(file.discovery);
  const config: TargetConfig = {
    targets: [...nodes.values()].map((n) => n.node),
    portalGroups: [
      {
        tag: FILE_PORTAL_GROUP,
        portals: file.portals.map((p) => ({ host: p.host, port: p.port, transport: p.transport })),
      },
    ],
    discovery: {
      enabled: file.discovery.enabled,
      acl: file.discovery.allowedInitiators,
      ...(discoveryChap === undefined ? {} : { chap: discoveryChap }),
    },
    allowShortChapSecrets: file.allowShortChapSecrets,
  };
  const dropped = [...(previous?.backends ?? new Map<string, BlockBackend>())]
    .filter(([key]) => !backends.has(key))
    .map(([, backend]) => backend);
  return { built: { file, config, nodes, backends }, opened, dropped };
}
