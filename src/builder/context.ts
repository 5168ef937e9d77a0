// The build context: a directory read through .dockerignore, never left (symlinks stay links), special files named and
// refused.
import type { Dirent, Stats } from 'node:fs';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { IgnoreMatcher, readIgnoreFile } from './ignore.js';
import type { Tree, TreeNode } from './tree.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

function specialName(s: Stats | Dirent): string {
  if (s.isSocket()) return 'socket';
  if (s.isFIFO()) return 'named pipe (FIFO)';
  if (s.isCharacterDevice()) return 'character device';
  if (s.isBlockDevice()) return 'block device';
  return 'special file';
}

/** Whether `path` is `root` or under it (both real paths). */
export function isUnder(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Reads a small text file (Dockerfile, ignore file) that must stay inside `root`: symlinks are followed only while
 * they lead to a place inside it; a regular file, at most 4 MiB. Undefined when it does not exist.
 */
export async function readTextInside(root: string, path: string, what: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return undefined;
  }
  const realRoot = await realpath(root);
  if (!isUnder(realRoot, real)) {
    throw new UsageError(
      `${what} ${path}: a symlink to a place outside ${root}`,
      'files outside the build context are read only when named on the command line (-f)',
    );
  }
  return readSmallText(real, what);
}

/** Reads a regular file of at most 4 MiB as UTF-8 (a FIFO or device is refused before it is opened). */
async function readSmallText(path: string, what: string): Promise<string> {
  if (!(await stat(path)).isFile()) throw new UsageError(`${what} ${path}: not a regular file`);
  const { constants } = await import('node:fs');
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UsageError(`${what} ${path}: not a regular file`);
    if (st.size > MAX_JSON_BYTES) throw new UsageError(`${what} ${path}: over the 4 MiB limit`);
    const buf = Buffer.alloc(MAX_JSON_BYTES + 1);
    let n = 0;
    for (let r = 1; r > 0 && n <= MAX_JSON_BYTES; n += r) r = (await fh.read(buf, n, buf.length - n, n)).bytesRead;
    if (n > MAX_JSON_BYTES) throw new UsageError(`${what} ${path}: over the 4 MiB limit`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}

export class BuildContext implements Tree {
  readonly label = 'the build context';
  readonly keepOwners = false;
  private readonly nodes = new Map<string, TreeNode | undefined>();
  private readonly dirs = new Map<string, string[]>();

  private constructor(
    readonly root: string,
    readonly ignore: IgnoreMatcher,
  ) {}

  /**
   * Opens a context directory. The ignore file is `<Dockerfile>.dockerignore` next to the Dockerfile when there is one
   * (BuildKit's rule), else the context's `.dockerignore`.
   */
  static async open(dir: string, dockerfilePath?: string): Promise<BuildContext> {
    const root = resolve(dir);
    const st = await stat(root).catch(() => undefined);
    if (!st?.isDirectory()) throw new UsageError(`build context ${dir}: not a directory`);
    let text: string | undefined;
    // Each ignore file stays where it belongs: beside the Dockerfile, or in the context; a symlink out is refused.
    if (dockerfilePath) {
      const beside = join(dirname(dockerfilePath), `${basename(dockerfilePath)}.dockerignore`);
      text = await readTextInside(dirname(resolve(dockerfilePath)), beside, 'ignore file');
    }
    text ??= await readTextInside(root, join(root, '.dockerignore'), '.dockerignore');
    let ignore: IgnoreMatcher;
    try {
      ignore = new IgnoreMatcher(text ? readIgnoreFile(text) : []);
    } catch (err) {
      throw new UsageError(`.dockerignore: ${(err as Error).message}`);
    }
    return new BuildContext(root, ignore);
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, ...rel.split('/'));
  }

  /** Ignored paths do not exist for COPY; a directory counts while an exception may re-include something in it. */
  private hidden(rel: string, isDir: boolean): boolean {
    if (!this.ignore.ignores(rel)) return false;
    return !(isDir && this.ignore.mayReinclude(rel));
  }

  async lstat(rel: string): Promise<TreeNode | undefined> {
    if (this.nodes.has(rel)) return this.nodes.get(rel);
    let node: TreeNode | undefined;
    // Synchronous calls: a context walk is thousands of tiny local lookups, each far cheaper than a thread-pool round
    // trip.
    let s: Stats | undefined;
    try {
      s = lstatSync(this.abs(rel));
    } catch {
      s = undefined;
    }
    if (s && !this.hidden(rel, s.isDirectory())) {
      const mode = rel === '' ? 0o755 : s.mode & 0o7777;
      if (s.isFile()) {
        node = { type: 'file', mode, uid: 0, gid: 0, size: s.size, hostPath: this.abs(rel) };
        if (s.nlink > 1) node.linkKey = `${s.dev}:${s.ino}`;
      } else if (s.isDirectory()) node = { type: 'dir', mode, uid: 0, gid: 0, size: 0 };
      else if (s.isSymbolicLink())
        node = { type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, linkname: readlinkSync(this.abs(rel)) };
      else node = { type: 'special', mode, uid: 0, gid: 0, size: 0, special: specialName(s) };
    }
    this.nodes.set(rel, node);
    return node;
  }

  async readdir(rel: string): Promise<string[]> {
    const cached = this.dirs.get(rel);
    if (cached) return cached;
    let entries: Dirent[];
    try {
      entries = readdirSync(this.abs(rel), { withFileTypes: true });
    } catch {
      entries = [];
    }
    const names: string[] = [];
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (this.hidden(child, e.isDirectory())) continue;
      // Most entries are plain files or directories: their nodes come from one lstat each, later, only when copied.
      names.push(e.name);
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.dirs.set(rel, names);
    return names;
  }
}
