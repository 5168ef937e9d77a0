// A file tree COPY reads from (the build context, a stage's or an image's files) and the entries a layer holds.
import { posix } from 'node:path';
import { UsageError } from '../errors.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'special';

export interface TreeNode {
  type: NodeType;
  /** Permission bits with setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: string;
  /** Where a regular file's bytes are on this machine (context file or spooled layer content). */
  hostPath?: string;
  /** What the special file is, for messages. */
  special?: string;
  /** Files with the same key are hard links to one another (same inode in the context, a tar's hard link). */
  linkKey?: string;
}

export interface Tree {
  /** For messages: "the build context", "stage builder", "image alpine:3.20". */
  readonly label: string;
  /** Image trees keep their owners; the build context's files belong to root unless --chown. */
  readonly keepOwners: boolean;
  /**
   * The node at a clean relative path ('' is the root), not following a final symlink; undefined when missing or
   * ignored.
   */
  lstat(rel: string): Promise<TreeNode | undefined>;
  /** The visible children of a directory, sorted. */
  readdir(rel: string): Promise<string[]>;
}

/** One entry of a layer tar: a path relative to the image root, without a leading or trailing slash. */
export interface LayerEntry {
  path: string;
  /** 'link' is a hard link to `linkname`, a path written earlier in the same layer. */
  type: 'file' | 'dir' | 'symlink' | 'link';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: string;
  hostPath?: string;
}

/** A relative path inside a root, or undefined when `..` climbs out of it. Leading `/` means the root. */
export function cleanInside(path: string): string | undefined {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(p);
  }
  return parts.join('/');
}

/** Like cleanInside, but `..` at the root stays there. */
function clampInside(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '' && p !== '.') parts.push(p);
  }
  return parts.join('/');
}

/**
 * Resolves every symlink on the way to `rel` inside the tree (the final component too when `followLast`), never
 * leaving the tree's root: an absolute link target is taken from the tree's root, as Docker scopes them.
 */
export async function resolveInTree(
  tree: Tree,
  rel: string,
  followLast: boolean,
  what: string,
  clamp = false,
): Promise<{ path: string; node: TreeNode | undefined }> {
  let hops = 0;
  let todo = rel.split('/').filter(Boolean);
  let done: string[] = [];
  for (;;) {
    if (todo.length === 0) {
      const path = done.join('/');
      return { path, node: await tree.lstat(path) };
    }
    const [head, ...rest] = todo;
    const candidate = [...done, head].join('/');
    const node = await tree.lstat(candidate);
    if (!node) return { path: [...done, ...todo].join('/'), node: undefined };
    if (node.type !== 'symlink' || (rest.length === 0 && !followLast)) {
      if (rest.length > 0 && node.type !== 'dir' && node.type !== 'symlink')
        return { path: [...done, ...todo].join('/'), node: undefined };
      done.push(head);
      todo = rest;
      continue;
    }
    if (++hops > 40) throw new UsageError(`${what}: too many levels of symbolic links in ${tree.label}`);
    const target = node.linkname ?? '';
    const joined = target.startsWith('/') ? target : posix.join(done.join('/'), target);
    // In an image, `..` at the root stays at the root (Docker's FollowSymlinkInScope); the context refuses it.
    const inside = clamp ? clampInside(joined) : cleanInside(joined);
    if (inside === undefined) {
      throw new UsageError(
        `${what}: the symbolic link /${candidate} points outside ${tree.label} (${target})`,
        'symlinks are never followed out of the build context',
      );
    }
    done = [];
    todo = [...inside.split('/').filter(Boolean), ...rest];
  }
}

/** Segment-wise wildcard matching with Go's filepath.Match syntax: `*`, `?`, `[…]`, `\` escapes. */
export function hasWildcard(path: string): boolean {
  return /[*?[]/.test(path);
}

export function segmentRegex(segment: string): RegExp {
  let re = '';
  const chars = [...segment];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < chars.length) re += `\\${chars[++i]}`;
    else if (ch === '[') {
      const end = chars.indexOf(']', i + 2);
      if (end < 0) throw new UsageError(`invalid pattern ${JSON.stringify(segment)}: unterminated [`);
      let cls = chars.slice(i + 1, end).join('');
      if (cls.startsWith('!') || cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\(?!.)/g, '\\\\')}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** Every visible path of the tree matching a wildcard pattern (relative, clean), sorted. */
export async function globTree(tree: Tree, pattern: string): Promise<string[]> {
  let current = [''];
  for (const seg of pattern.split('/').filter(Boolean)) {
    const next: string[] = [];
    if (!hasWildcard(seg)) {
      for (const dir of current) {
        const p = dir ? `${dir}/${seg}` : seg;
        if (await tree.lstat(p)) next.push(p);
      }
    } else {
      const re = segmentRegex(seg);
      for (const dir of current) {
        const node = dir === '' ? { type: 'dir' } : await tree.lstat(dir);
        if (node?.type !== 'dir') continue;
        for (const name of await tree.readdir(dir)) if (re.test(name)) next.push(dir ? `${dir}/${name}` : name);
      }
    }
    current = next;
  }
  return current.sort();
}
