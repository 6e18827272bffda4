/**
 * Opens the listeners of target.yaml portals: TCP, and iSER on a Verbs provider — the native addon when probe()
 * finds an RDMA device (a clear error naming why not otherwise), or a soft-RoCE device on UDP at the portal's
 * address. Providers are shared: one native provider, one soft-RoCE device per address on one UDP link; they are
 * closed with the portal set.
 */
import type { SchedulerLike } from 'rxjs';
import type { PortalSpec } from '../../config/target-config.js';
import type { DatamoverListener } from '../../protocol/datamover.js';
import type { RoceLink } from '../../sim/roce/link/link.js';
import type { TcpListenerOptions } from '../../transports/tcp/index.js';
import { TcpListener } from '../../transports/tcp/index.js';
import type { VerbsProvider } from '../../transports/verbs.js';
import { TargetServerError } from '../errors.js';

/** The identity of a portal: a reload keeps a listener whose key is still configured. */
export function portalKey(portal: PortalSpec): string {
  const provider = portal.transport === 'iser' ? `/${portal.provider}` : '';
  return `${portal.transport}${provider} ${portal.host.toLowerCase()}:${portal.port}`;
}

/** Options of a {@link PortalOpener}. */
export interface PortalOpenerOptions {
  readonly scheduler: SchedulerLike;
  readonly tcp?: TcpListenerOptions;
  /** The link soft-RoCE devices attach to (default: a new UDP link on first use). */
  readonly roceLink?: RoceLink;
  /** Told when a Verbs provider opens (soft-RoCE: the UDP port its peers must send to, 4791 unless taken). */
  readonly onProvider?: (opened: ProviderOpened) => void;
  /** Replaces how an iSER portal's provider is found (tests). */
  readonly iserProvider?: (portal: Extract<PortalSpec, { transport: 'iser' }>) => Promise<VerbsProvider>;
}

/** A Verbs provider that opened for iSER portals. */
export interface ProviderOpened {
  readonly provider: 'native' | 'softroce-udp';
  /** The device's name (native) or address (soft-RoCE). */
  readonly device: string;
  /** Soft-RoCE: the UDP port it receives on. */
  readonly udpPort?: number;
}

/** Opens portals and owns the providers under them. */
export class PortalOpener {
  readonly #options: PortalOpenerOptions;
  #native: Promise<VerbsProvider> | undefined;
  readonly #softRoce = new Map<string, Promise<VerbsProvider & { close(): Promise<void> }>>();
  #link: RoceLink | undefined;
  #closers: (() => Promise<void> | void)[] = [];

  constructor(options: PortalOpenerOptions) {
    this.#options = options;
  }

  /** Opens a listener on `portal`; throws TargetServerError ERR_SERVER_TRANSPORT saying why it cannot. */
  async open(portal: PortalSpec): Promise<DatamoverListener> {
    const address = { host: portal.host, port: portal.port };
    if (portal.transport === 'tcp') {
      try {
        return await TcpListener.listen(address, { ...this.#options.tcp, scheduler: this.#options.scheduler });
      } catch (err) {
        throw transportError(portal, err instanceof Error ? err.message : String(err), err);
      }
    }
    const provider = await (this.#options.iserProvider?.(portal) ?? this.#provider(portal));
    const { IserListener } = await import('../../transports/iser/listener.js');
    try {
      return await IserListener.listen(provider, address, { scheduler: this.#options.scheduler });
    } catch (err) {
      throw transportError(portal, err instanceof Error ? err.message : String(err), err);
    }
  }

  /** Closes every provider opened. Close the listeners first. */
  async close(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => undefined);
  }

  #provider(portal: Extract<PortalSpec, { transport: 'iser' }>): Promise<VerbsProvider> {
    switch (portal.provider) {
      case 'native':
        this.#native ??= this.#openNative(portal);
        return this.#native;
      case 'softroce-udp': {
        const key = portal.host.toLowerCase();
        let device = this.#softRoce.get(key);
        if (device === undefined) {
          device = this.#openSoftRoce(portal);
          this.#softRoce.set(key, device);
          // A device that failed to open is not kept: the next reload tries again.
          device.catch(() => this.#softRoce.delete(key));
        }
        return device;
      }
      case 'sim':
        return Promise.reject(
          transportError(
            portal,
            'provider sim is the in-process simulated fabric (tests, npm start); a target process serves iSER with provider native or softroce-udp',
          ),
        );
    }
  }

  async #openNative(portal: PortalSpec): Promise<VerbsProvider> {
    try {
      const { probe, NativeVerbs } = await import('../../native/index.js');
      const found = probe();
      if (!found.available) throw new Error(found.reason);
      const provider = NativeVerbs.open({ scheduler: this.#options.scheduler });
      this.#closers.push(() => {
        provider.close();
      });
      this.#options.onProvider?.({ provider: 'native', device: provider.name });
      return provider;
    } catch (err) {
      this.#native = undefined;
      const why = err instanceof Error ? err.message : String(err);
      throw transportError(
        portal,
        `provider native needs an RDMA device: ${why} (provider: softroce-udp serves iSER over UDP without one)`,
        err,
      );
    }
  }

  async #openSoftRoce(portal: PortalSpec): Promise<VerbsProvider & { close(): Promise<void> }> {
    const [{ SoftRoceProvider }, { UdpLink }] = await Promise.all([
      import('../../sim/roce/provider/provider.js'),
      import('../../sim/roce/link/udp-link.js'),
    ]);
    // The link holds no socket of its own: each device's endpoint does, and closing the device closes it.
    this.#link ??= this.#options.roceLink ?? new UdpLink();
    try {
      const provider = await SoftRoceProvider.open({
        link: this.#link,
        address: portal.host,
        scheduler: this.#options.scheduler,
      });
      this.#closers.push(() => provider.close());
      this.#options.onProvider?.({ provider: 'softroce-udp', device: portal.host, udpPort: provider.port });
      return provider;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw transportError(portal, `cannot open a soft-RoCE device on UDP at ${portal.host}: ${why}`, err);
    }
  }
}

function transportError(portal: PortalSpec, why: string, cause?: unknown): TargetServerError {
  return new TargetServerError('ERR_SERVER_TRANSPORT', `portal ${portalKey(portal)}: ${why}`, { cause });
}
