// COPY/ADD semantics as Docker applies them: sources (globs, directories, files), destination rules, --chown/--chmod.
import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import { type LayerEntry, type Tree, type TreeNode, cleanInside, globTree, hasWildcard, resolveInTree } from './tree.js';

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
}

/** Where a relative destination lands, and whether it names a directory (trailing slash, `.`). */
export function resolveDest(dest: string, workdir: string): { path: string; isDir: boolean } {
  const isDir = dest.endsWith('/') || dest === '.' || dest.endsWith('/.') || dest === '..' || dest.endsWith('/..');
  const abs = dest.startsWith('/') ? dest : posix.join(workdir || '/', dest);
  const clean = cleanInside(abs) ?? '';
  return { path: clean, isDir: isDir || clean === '' };
}

function refuseSpecial(where: string, tree: Tree, rel: string, node: TreeNode): never {
  throw new UsageError(`${where}: /${rel} in ${tree.label} is a ${node.special ?? 'special file'}: only files, directories and symlinks can be copied`);
}

export async function planCopy(tree: Tree, req: CopyRequest): Promise<LayerEntry[]> {
  const { where } = req;
  const dest = resolveDest(req.dest, req.workdir);
  const matches: Array<{ rel: string; node: TreeNode; name: string }> = [];
  for (const src of req.sources) {
    const rel = cleanInside(src);
    if (rel === undefined) {
      throw new UsageError(`${where} ${src}: the path is outside ${tree.label}`, 'COPY sources are relative to the build context and cannot leave it');
    }
    if (hasWildcard(rel)) {
      const found = await globTree(tree, rel);
      for (const m of found) {
        const r = await resolveInTree(tree, m, true, `${where} ${src}`);
        if (r.node) matches.push({ rel: r.path, node: r.node, name: posix.basename(m) });
      }
      if (found.length === 0) throw new UsageError(`${where} ${src}: no file in ${tree.label} matches (or all are excluded by .dockerignore)`);
      continue;
    }
    const r = await resolveInTree(tree, rel, true, `${where} ${src}`);
    if (!r.node) {
      throw new UsageError(`${where} ${src}: not found in ${tree.label}${tree.keepOwners ? '' : ' (or excluded by .dockerignore)'}`);
    }
    matches.push({ rel: r.path, node: r.node, name: posix.basename(rel) });
  }
  if ((matches.length > 1 || req.sources.length > 1) && !dest.isDir) {
    throw new UsageError(`${where}: with more than one source the destination must be a directory and end with a /`);
  }
  const out = new Map<string, LayerEntry>();
  const owner = (n: TreeNode): Owner => req.chown ?? (tree.keepOwners ? { uid: n.uid, gid: n.gid } : { uid: 0, gid: 0 });
  const put = (path: string, n: TreeNode, created = false) => {
    if (path === '') return;
    if (n.type === 'special') refuseSpecial(where, tree, path, n);
    const o = owner(n);
    const type = n.type as LayerEntry['type'];
    // --chmod applies to what is copied; a destination directory made for it keeps 0755.
    const mode = req.chmod !== undefined && type !== 'symlink' && !created ? req.chmod : n.mode;
    const e: LayerEntry = { path, type, mode, uid: o.uid, gid: o.gid, size: type === 'file' ? n.size : 0 };
    if (type === 'symlink') e.linkname = n.linkname;
    if (type === 'file') e.hostPath = n.hostPath;
    out.delete(path);
    out.set(path, e);
  };
  const walk = async (srcRel: string, dstRel: string): Promise<void> => {
    for (const name of await tree.readdir(srcRel)) {
      const s = srcRel ? `${srcRel}/${name}` : name;
      const d = dstRel ? `${dstRel}/${name}` : name;
      const node = await tree.lstat(s);
      if (!node) continue;
      if (node.type === 'special') refuseSpecial(where, tree, s, node);
      put(d, node);
      if (node.type === 'dir') await walk(s, d);
    }
  };
  if (dest.isDir && req.chown && dest.path !== '') {
    put(dest.path, { type: 'dir', mode: 0o755, uid: req.chown.uid, gid: req.chown.gid, size: 0 }, true);
  }
  for (const m of matches) {
    if (m.node.type === 'special') refuseSpecial(where, tree, m.rel, m.node);
    if (m.node.type === 'dir') {
      // A directory's contents go into the destination; the destination takes the directory's metadata.
      put(dest.path, m.node);
      await walk(m.rel, dest.path);
    } else {
      put(dest.isDir ? (dest.path ? `${dest.path}/${m.name}` : m.name) : dest.path, m.node);
    }
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
