/**
 * A LIO target built straight in configfs (targetcli needs D-Bus and ~18 s of Python start-up under TCG): a
 * ramdisk (rd_mcp) LUN 0, optionally a block device as LUN 1, one portal with iSER on, demo mode without authentication. `remove()` takes it all down
 * again in reverse order, so the next test file finds configfs as it was.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { modprobe } from './guest.js';

const CONFIGFS = '/sys/kernel/config/target';

/** What to build. */
export interface LioOptions {
  readonly iqn: string;
  readonly host: string;
  readonly port: number;
  /** LUN size, a multiple of 4 KiB. */
  readonly bytes: number;
  /** The backstore's name under core/rd_mcp_N (unique per test file, so files never share one). */
  readonly backstore: string;
  /** Enable iSER on the portal (TCP keeps working on the same address and port). */
  readonly iser: boolean;
  /** A block device exported as LUN 1 through an iblock backstore (e.g. a slow null_blk, for aborts). */
  readonly slowDevice?: string;
}

/** One LIO target in configfs; every path it created, so it can remove exactly those. */
export class LioTarget {
  readonly #created: { readonly path: string; readonly kind: 'dir' | 'link' }[] = [];
  readonly #tpg: string;
  readonly #np: string;

  private constructor(readonly options: LioOptions) {
    this.#tpg = `${CONFIGFS}/iscsi/${options.iqn}/tpgt_1`;
    this.#np = `${this.#tpg}/np/${options.host}:${options.port}`;
  }

  /** Loads LIO (and isert) and builds the target; on failure removes what it built and throws. */
  static async create(options: LioOptions): Promise<LioTarget> {
    await modprobe(
      'target_core_mod',
      'iscsi_target_mod',
      ...(options.iser ? ['ib_isert'] : []),
      ...(options.slowDevice === undefined ? [] : ['target_core_iblock']),
    );
    const lio = new LioTarget(options);
    try {
      lio.#build();
    } catch (err) {
      lio.remove();
      throw err;
    }
    return lio;
  }

  /** The portal's iser attribute as LIO reports it. */
  get iserEnabled(): boolean {
    return readFileSync(`${this.#np}/iser`, 'utf8').trim() === '1';
  }

  #mkdir(path: string): void {
    if (existsSync(path)) return;
    mkdirSync(path);
    this.#created.push({ path, kind: 'dir' });
  }

  #build(): void {
    const o = this.options;
    const hba = `${CONFIGFS}/core/${o.backstore}`;
    const dev = `${hba}/lun0`;
    this.#mkdir(hba);
    this.#mkdir(dev);
    writeFileSync(`${dev}/control`, `rd_pages=${o.bytes / 4096}`);
    writeFileSync(`${dev}/enable`, '1');
    this.#mkdir(`${CONFIGFS}/iscsi`);
    this.#mkdir(`${CONFIGFS}/iscsi/${o.iqn}`);
    this.#mkdir(this.#tpg);
    this.#mkdir(`${this.#tpg}/lun/lun_0`);
    symlinkSync(dev, `${this.#tpg}/lun/lun_0/lun0`);
    this.#created.push({ path: `${this.#tpg}/lun/lun_0/lun0`, kind: 'link' });
    if (o.slowDevice !== undefined) {
      const slowHba = `${CONFIGFS}/core/iblock_${o.backstore.replace(/\D/g, '') || '0'}`;
      const slow = `${slowHba}/slow`;
      this.#mkdir(slowHba);
      this.#mkdir(slow);
      writeFileSync(`${slow}/control`, `udev_path=${o.slowDevice}`);
      writeFileSync(`${slow}/enable`, '1');
      this.#mkdir(`${this.#tpg}/lun/lun_1`);
      symlinkSync(slow, `${this.#tpg}/lun/lun_1/slow`);
      this.#created.push({ path: `${this.#tpg}/lun/lun_1/slow`, kind: 'link' });
    }
    this.#mkdir(this.#np);
    if (o.iser) writeFileSync(`${this.#np}/iser`, '1');
    writeFileSync(`${this.#tpg}/attrib/authentication`, '0');
    writeFileSync(`${this.#tpg}/attrib/generate_node_acls`, '1');
    writeFileSync(`${this.#tpg}/attrib/demo_mode_write_protect`, '0');
    writeFileSync(`${this.#tpg}/attrib/cache_dynamic_acls`, '1');
    writeFileSync(`${this.#tpg}/enable`, '1');
  }

  /**
   * Disables the portal group and removes everything created, newest first. Sessions still logged in are
   * dropped by LIO. Never throws: returns what it could not remove.
   */
  remove(): string[] {
    const left: string[] = [];
    try {
      if (existsSync(`${this.#tpg}/enable`)) writeFileSync(`${this.#tpg}/enable`, '0');
    } catch (err) {
      left.push(`${this.#tpg}/enable: ${String(err)}`);
    }
    for (const { path, kind } of this.#created.splice(0).reverse()) {
      try {
        if (kind === 'link') unlinkSync(path);
        else rmdirSync(path);
      } catch (err) {
        left.push(`${path}: ${String(err)}`);
      }
    }
    return left;
  }
}
