// COPY/ADD semantics as Docker's builder applies them: sources (globs, directories, files), the destination looked
// up in the image (symlinks followed, an existing directory receives files), parent directories, --chown/--chmod,
// hard links.
import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import {
  type LayerEntry,
  type Tree,
  type TreeNode,
  cleanInside,
  globTree,
  hasWildcard,
  resolveInTree,
} from './tree.js';

export interface Owner {
  uid: number;
  gid: number;
}

export interface CopyRequest {
  /** For messages: `Dockerfile:12: COPY`. */
  where: string;
  sources: string[];
  dest: string;
  /** The stage's working directory (absolute). */
  workdir: string;
  chown?: Owner;
  chmod?: number;
  /** The image's files before this instruction (names, types, modes, owners; no bytes); undefined: scratch. */
  destFs?: Tree;
  /** Sources come from another stage or image (`COPY --from`): a missing one names the WORKDIR in the message. */
  fromOther?: boolean;
}

const ROOT: Owner = { uid: 0, gid: 0 };

/** Where a relative destination lands, and whether it names a directory (trailing slash, `.`). */
export function resolveDest(dest: string, workdir: string): { path: string; isDir: boolean } {
  const isDir = dest.endsWith('/') || dest === '.' || dest.endsWith('/.') || dest === '..' || dest.endsWith('/..');
  const abs = dest.startsWith('/') ? dest : posix.join(workdir || '/', dest);
  const clean = cleanInside(abs) ?? '';
  return { path: clean, isDir: isDir || clean === '' };
}

function refuseSpecial(where: string, tree: Tree, rel: string, node: TreeNode): never {
  throw new UsageError(
    `${where}: /${rel} in ${tree.label} is a ${node.special ?? 'special file'}: ` +
      `only files, directories and symlinks can be copied`,
  );
}

const byPath = (a: LayerEntry, b: LayerEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The entries a layer holds for what is being written, plus every parent directory on the way: one the image has
 * keeps its mode and owner, a missing one is made 0755 (root, or the --chown owner where Docker gives it that).
 */
export class LayerPlan {
  private readonly out = new Map<string, LayerEntry>();
  private readonly links = new Map<string, string>();

  constructor(
    private readonly where: string,
    private readonly destFs: Tree | undefined,
  ) {}

  /** What is at a path once this layer applies (no symlink followed). */
  async at(path: string): Promise<{ type: string; mode: number; uid: number; gid: number } | undefined> {
    return this.out.get(path) ?? (await this.destFs?.lstat(path));
  }

  put(e: LayerEntry, linkKey?: string): void {
    this.out.delete(e.path);
    this.out.set(e.path, e);
    if (linkKey) this.links.set(e.path, linkKey);
    else this.links.delete(e.path);
  }

  /** Makes `dir` and its parents directories: existing ones as the image has them, missing ones 0755 `owner`. */
  async ensureDir(dir: string, owner: Owner): Promise<void> {
    if (dir === '') return;
    const segs = dir.split('/');
    for (let i = 1; i <= segs.length; i++) {
      const p = segs.slice(0, i).join('/');
      if (this.out.has(p)) {
        if (this.out.get(p)!.type !== 'dir') throw new UsageError(`${this.where}: /${p} is not a directory`);
        continue;
      }
      const n = await this.destFs?.lstat(p);
      if (n && n.type !== 'dir') {
        const is = n.type === 'symlink' ? `symlink to ${n.linkname}` : n.type;
        throw new UsageError(`${this.where}: /${p} is not a directory in the image (it is a ${is})`);
      }
      const meta = n ? { mode: n.mode, uid: n.uid, gid: n.gid } : { mode: 0o755, ...owner };
      this.put({ path: p, type: 'dir', ...meta, size: 0 });
    }
  }

  /** Where a destination path lands in the image: its symlinks followed inside the image's root, as Docker does. */
  async resolve(path: string): Promise<{ path: string; node?: TreeNode }> {
    if (!this.destFs || path === '') return { path };
    const r = await resolveInTree(this.destFs, path, true, this.where, true);
    return { path: r.path, node: r.node };
  }

  /** The entries, sorted; files sharing a link key after the first (by path) become hard links to it. */
  entries(): LayerEntry[] {
    const sorted = [...this.out.values()].sort(byPath);
    const first = new Map<string, string>();
    return sorted.map((e) => {
      const key = e.type === 'file' ? this.links.get(e.path) : undefined;
      if (!key) return e;
      const target = first.get(key);
      if (target === undefined) {
        first.set(key, e.path);
        return e;
      }
      const { hostPath: _, ...rest } = e;
      return { ...rest, type: 'link', linkname: target, size: 0 };
    });
  }
}

export async function planCopy(
  tree: Tree,
  req: CopyRequest,
  plan = new LayerPlan(req.where, req.destFs),
): Promise<LayerEntry[]> {
  const { where } = req;
  const dest = resolveDest(req.dest, req.workdir);
  const matches: Array<{ rel: string; node: TreeNode; name: string }> = [];
  for (const src of req.sources) {
    const rel = cleanInside(src);
    if (rel === undefined) {
      throw new UsageError(
        `${where} ${src}: the path is outside ${tree.label}`,
        'COPY sources are relative to the build context and cannot leave it',
      );
    }
    if (hasWildcard(rel)) {
      const found = await globTree(tree, rel);
      for (const m of found) {
        const r = await resolveInTree(tree, m, true, `${where} ${src}`);
        if (r.node) matches.push({ rel: r.path, node: r.node, name: posix.basename(m) });
      }
      if (found.length === 0)
        throw new UsageError(
          `${where} ${src}: no file in ${tree.label} matches (or all are excluded by .dockerignore)`,
        );
      continue;
    }
    const r = await resolveInTree(tree, rel, true, `${where} ${src}`);
    if (!r.node) {
      const wd = req.workdir.replace(/\/$/, '');
      const why =
        req.fromOther && !src.startsWith('/') && wd !== ''
          ? ` (--from sources start at the root of ${tree.label}, not at this stage's WORKDIR ${wd})`
          : '';
      const ignored = tree.keepOwners ? '' : ' (or excluded by .dockerignore)';
      throw new UsageError(`${where} ${src}: not found in ${tree.label}${ignored}${why}`);
    }
    matches.push({ rel: r.path, node: r.node, name: posix.basename(rel) });
  }
  if ((matches.length > 1 || req.sources.length > 1) && !dest.isDir) {
    throw new UsageError(`${where}: with more than one source the destination must be a directory and end with a /`);
  }
  const target = await plan.resolve(dest.path);
  const destIsDir = dest.isDir || target.node?.type === 'dir';
  const owner = (n: TreeNode): Owner => req.chown ?? (tree.keepOwners ? { uid: n.uid, gid: n.gid } : ROOT);
  const entry = (path: string, n: TreeNode): LayerEntry => {
    if (n.type === 'special') refuseSpecial(where, tree, path, n);
    const type = n.type as LayerEntry['type'];
    const mode = req.chmod !== undefined && type !== 'symlink' ? req.chmod : n.mode;
    const e: LayerEntry = { path, type, mode, ...owner(n), size: type === 'file' ? n.size : 0 };
    if (type === 'symlink') e.linkname = n.linkname;
    if (type === 'file') e.hostPath = n.hostPath;
    return e;
  };
  let walkNo = 0;
  const walk = async (srcRel: string, dstRel: string, scope: string): Promise<void> => {
    for (const name of await tree.readdir(srcRel)) {
      const s = srcRel ? `${srcRel}/${name}` : name;
      const d = dstRel ? `${dstRel}/${name}` : name;
      const node = await tree.lstat(s);
      if (!node) continue;
      if (node.type === 'special') refuseSpecial(where, tree, s, node);
      plan.put(entry(d, node), node.linkKey && `${scope}\0${node.linkKey}`);
      if (node.type === 'dir') await walk(s, d, scope);
    }
  };
  for (const m of matches) {
    if (m.node.type === 'special') refuseSpecial(where, tree, m.rel, m.node);
    if (m.node.type === 'dir') {
      // Docker: the destination directory's missing parents are root's; the directory itself, when new, is 0755 and
      // belongs to the --chown owner (or root); an existing one keeps its mode and owner. Its contents go inside.
      const parent = target.path.includes('/') ? target.path.slice(0, target.path.lastIndexOf('/')) : '';
      await plan.ensureDir(parent, ROOT);
      if (target.path !== '') {
        const have = await plan.at(target.path);
        const kept = have?.type === 'dir' ? { mode: have.mode, uid: have.uid, gid: have.gid } : undefined;
        const meta = kept ?? { mode: 0o755, ...(req.chown ?? ROOT) };
        plan.put({ path: target.path, type: 'dir', ...meta, size: 0 });
      }
      await walk(m.rel, target.path, String(walkNo++));
    } else {
      // A file goes inside a destination that ends with / or is a directory; missing parents get the --chown owner.
      const path = destIsDir ? (target.path ? `${target.path}/${m.name}` : m.name) : target.path;
      await plan.ensureDir(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '', req.chown ?? ROOT);
      plan.put(entry(path, m.node));
    }
  }
  return plan.entries();
}
