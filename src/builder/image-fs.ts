// An image's files as a tree: layers (gzip or plain tar) read in order, whiteouts and opaque directories applied,
// and only the wanted files' bytes spooled to disk (COPY --from, ADD of a local archive, /etc/passwd for --chown).
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { UsageError } from '../errors.js';
import type { Bytes } from '../transports/types.js';
import { type DecompressOptions, decompressed } from './decompress.js';
import type { MetaEntry } from './layer-index.js';
import { type Tree, type TreeNode, cleanInside } from './tree.js';

export interface LayerSource {
  /** For messages: the layer's digest or file. */
  what: string;
  open(signal: AbortSignal): Promise<Bytes>;
}

export interface ReadOptions {
  spoolDir: string;
  /** Whether a file's bytes are needed (its path is relative, clean). Default: every file. */
  want?: (path: string) => boolean;
  signal: AbortSignal;
  /** How the stream may be compressed, and the cap on what it unpacks to (ADD archives). */
  decompress?: DecompressOptions;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
let spoolCounter = 0;

export class ImageTree implements Tree {
  readonly keepOwners = true;
  private readonly nodes = new Map<string, TreeNode>([['', { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 }]]);
  private readonly kids = new Map<string, Set<string>>([['', new Set()]]);

  constructor(readonly label: string) {}

  async lstat(rel: string): Promise<TreeNode | undefined> {
    return this.nodes.get(rel);
  }

  async readdir(rel: string): Promise<string[]> {
    return [...(this.kids.get(rel) ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private remove(path: string): void {
    const node = this.nodes.get(path);
    if (!node) return;
    for (const k of this.kids.get(path) ?? []) this.remove(path ? `${path}/${k}` : k);
    this.kids.delete(path);
    this.nodes.delete(path);
    const slash = path.lastIndexOf('/');
    this.kids.get(slash < 0 ? '' : path.slice(0, slash))?.delete(path.slice(slash + 1));
  }

  private ensureDir(path: string): void {
    if (this.nodes.get(path)?.type === 'dir') return;
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    this.ensureDir(parent);
    this.remove(path);
    this.nodes.set(path, { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 });
    this.kids.set(path, new Set());
    this.kids.get(parent)!.add(path.slice(slash + 1));
  }

  private set(path: string, node: TreeNode): void {
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    this.ensureDir(parent);
    const old = this.nodes.get(path);
    if (old && !(old.type === 'dir' && node.type === 'dir')) this.remove(path);
    this.nodes.set(path, node);
    if (node.type === 'dir' && !this.kids.has(path)) this.kids.set(path, new Set());
    this.kids.get(parent)!.add(path.slice(slash + 1));
  }

  /** Applies one layer (or a plain archive, with `whiteouts` false) on top of what is there. */
  async apply(layer: LayerSource, opts: ReadOptions & { whiteouts?: boolean; under?: string }): Promise<void> {
    const extract = tar.extract();
    const bytes = decompressed(await layer.open(opts.signal), layer.what, { ...opts.decompress, signal: opts.signal });
    const feeding = pipeline(Readable.from(bytes), extract, { signal: opts.signal });
    feeding.catch(() => {});
    const whiteouts = opts.whiteouts ?? true;
    for await (const entry of extract) {
      const h = entry.header;
      const inner = cleanInside(h.name);
      if (inner === undefined)
        throw new UsageError(`${layer.what}: entry ${JSON.stringify(h.name.slice(0, 200))} escapes the archive's root`);
      const path = opts.under ? (inner ? `${opts.under}/${inner}` : opts.under) : inner;
      const slash = path.lastIndexOf('/');
      const base = path.slice(slash + 1);
      const dir = slash < 0 ? '' : path.slice(0, slash);
      let spooled: string | undefined;
      if (whiteouts && base === OPAQUE) {
        for (const k of [...(this.kids.get(dir) ?? [])]) this.remove(dir ? `${dir}/${k}` : k);
      } else if (whiteouts && base.startsWith(WHITEOUT)) {
        this.remove(dir ? `${dir}/${base.slice(WHITEOUT.length)}` : base.slice(WHITEOUT.length));
      } else if (path !== '' || h.type === 'directory') {
        const mode = (h.mode ?? 0o644) & 0o7777;
        const node: TreeNode = { type: 'file', mode, uid: h.uid ?? 0, gid: h.gid ?? 0, size: 0 };
        if (h.type === 'directory') node.type = 'dir';
        else if (h.type === 'symlink') Object.assign(node, { type: 'symlink', linkname: h.linkname ?? '' });
        else if (h.type === 'link') this.hardLink(node, h.linkname ?? '', opts.under);
        else if (h.type === 'file' || h.type === 'contiguous-file') {
          node.size = h.size ?? 0;
          if (!opts.want || opts.want(path)) {
            spooled = join(opts.spoolDir, `f${++spoolCounter}`);
            node.hostPath = spooled;
          }
        } else Object.assign(node, { type: 'special', special: h.type ?? 'special file' });
        if (path === '') this.nodes.set('', { ...node, type: 'dir' });
        else this.set(path, node);
      }
      if (spooled) await pipeline(entry, createWriteStream(spooled), { signal: opts.signal });
      else entry.resume();
    }
    await feeding;
  }

  /** A hard link shares its target's bytes, and both get one link key (the layer writes a hard-link entry). */
  private hardLink(node: TreeNode, linkname: string, under?: string): void {
    const target = cleanInside(linkname);
    const path = target === undefined ? undefined : under ? (target ? `${under}/${target}` : under) : target;
    const t = path === undefined ? undefined : this.nodes.get(path);
    if (t?.type !== 'file') return;
    t.linkKey ??= `${this.label}\0${path}`;
    const { size, hostPath, mode, uid, gid, linkKey } = t;
    Object.assign(node, { size, hostPath, mode, uid, gid, linkKey });
  }

  /** Applies a layer's index (no file bytes): whiteouts and opaque directories as a layer's tar would. */
  applyIndex(entries: MetaEntry[]): void {
    for (const e of entries) {
      const path = cleanInside(e.path);
      if (path === undefined) continue;
      const slash = path.lastIndexOf('/');
      const base = path.slice(slash + 1);
      const dir = slash < 0 ? '' : path.slice(0, slash);
      if (base === OPAQUE) {
        for (const k of [...(this.kids.get(dir) ?? [])]) this.remove(dir ? `${dir}/${k}` : k);
        continue;
      }
      if (base.startsWith(WHITEOUT)) {
        this.remove(dir ? `${dir}/${base.slice(WHITEOUT.length)}` : base.slice(WHITEOUT.length));
        continue;
      }
      const node: TreeNode = { type: 'file', mode: e.mode, uid: e.uid, gid: e.gid, size: e.size ?? 0 };
      if (e.type === 'd') node.type = 'dir';
      else if (e.type === 'l') Object.assign(node, { type: 'symlink', linkname: e.link ?? '' });
      else if (e.type === 'h') this.hardLink(node, e.link ?? '');
      else if (e.type === 's') Object.assign(node, { type: 'special', special: 'special file' });
      if (path === '') {
        if (node.type === 'dir') this.nodes.set('', node);
      } else this.set(path, node);
    }
  }

  /** Reads a small file's text (for /etc/passwd, /etc/group); undefined when absent or not spooled. */
  async readText(path: string): Promise<string | undefined> {
    const node = this.nodes.get(path);
    if (node?.type !== 'file' || !node.hostPath) return undefined;
    return readFile(node.hostPath, 'utf8');
  }
}
