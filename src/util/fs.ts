// Local file safety: atomic writes (temp + fsync + rename), lockfiles, temp tracking for abort, and root-confined
// joins.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, rm, unlink, link } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { RegctlError, hasCode } from '../errors.js';
import { sleep } from './sleep.js';

/** A unique temporary name beside `path` (same directory, so a rename is atomic). */
export function tempNameFor(path: string, tag = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${randomBytes(6).toString('hex')}`);
}

export interface WriteAtomicOptions {
  /** 0o600 for secrets; default 0o644 */
  mode?: number;
  /** fsync the file and its directory (default); false for content that is checked again on read (blobs) */
  sync?: boolean;
  /** where the temp file is registered while it exists, for clean-up on abort */
  temps?: TempTracker;
}

/**
 * Writes `body` (bytes, or a stream of them) to `path` atomically: a random temp name in the same directory created
 * with O_CREAT|O_EXCL (a link planted there is never written through), fsync, rename; the directory is synced too. A
 * failing stream (a digest mismatch) leaves nothing behind.
 */
export async function writeAtomic(
  path: string,
  body: Uint8Array | AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
  opts: WriteAtomicOptions = {},
): Promise<void> {
  signal?.throwIfAborted();
  const durable = opts.sync !== false;
  const tmp = tempNameFor(path);
  opts.temps?.add(tmp);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    try {
      if (body instanceof Uint8Array) await fh.writeFile(body, { signal });
      else {
        for await (const chunk of body) {
          signal?.throwIfAborted();
          for (let at = 0; at < chunk.byteLength;) at += (await fh.write(chunk, at)).bytesWritten;
        }
      }
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    signal?.throwIfAborted();
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  } finally {
    opts.temps?.forget(tmp);
  }
  if (durable) await syncDir(dirname(path));
}

/** fsync a directory so a rename into it is durable (best effort: not every platform allows it). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* not supported here */
  }
}

export interface LockOptions {
  /** A lock older than this is taken over even if its holder seems alive (ms). */
  staleMs?: number;
  /** Give up waiting after this long (ms). */
  timeoutMs?: number;
}

const inProcess = new Map<string, Promise<unknown>>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock written by tryAcquire holds: pid, host, a random token, one a line. */
const LOCK_TEXT = /^(\d{1,10})\n([^\n]{1,255})\n[^\n]{0,64}\n$/;

/**
 * Whether the lock described by `text` may be taken over. `ageMs` is the longer of its file age and how long this
 * process has seen it unchanged (a planted lock with an mtime in the future still ages).
 */
function isStale(text: string, ageMs: number, staleMs: number): boolean {
  if (ageMs > staleMs) return true;
  const m = LOCK_TEXT.exec(text);
  // Empty or not a lock regctl writes: a writer that died between create and write, or a file that is not ours.
  if (!m) return ageMs > 2000;
  const n = Number(m[1]);
  // A pid only means something on the host that wrote it (containers sharing a volume do not share pids).
  if (m[2] !== hostname() || n <= 0) return false;
  return !pidAlive(n);
}

/** The text of a lock file, never following a link, at most 4 KiB; undefined when it is gone or unreadable. */
async function readLock(path: string): Promise<string | undefined> {
  const { readRegular } = await import('./read.js');
  return readRegular(path, 4096, { noFollow: true }).then(
    (b) => b.toString('utf8'),
    (err: unknown) => (hasCode(err, 'TOO_LARGE') ? '\0' : undefined),
  );
}

async function tryAcquire(lockPath: string, token: string): Promise<boolean> {
  try {
    const fh = await open(lockPath, 'wx', 0o644);
    try {
      await fh.writeFile(token);
    } finally {
      await fh.close();
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Removes a stale lock without removing a fresh one that replaced it meanwhile: move it aside, check, put back if not
 * ours.
 */
async function steal(lockPath: string, seen: string): Promise<void> {
  const aside = tempNameFor(lockPath, 'stale');
  try {
    await rename(lockPath, aside);
  } catch {
    return; // someone else took it first
  }
  const now = (await readLock(aside)) ?? '';
  if (now !== seen) await link(aside, lockPath).catch(() => {}); // a fresh lock: give it back unless replaced already
  await unlink(aside).catch(() => {});
}

/**
 * Runs `fn` holding `PATH.lock` (O_EXCL, holding pid and host). Waits with backoff while another holds it; a lock whose
 * pid is dead (same host), that regctl did not write, or older than `staleMs` is taken over. A lock that is not a
 * regular file (a symbolic link, a FIFO) is never followed or read: an error at once. Serialised in-process first,
 * so one process polls once.
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  signal?: AbortSignal,
  opts: LockOptions = {},
): Promise<T> {
  const lockPath = `${resolve(path)}.lock`;
  const previous = inProcess.get(lockPath) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => holdLock(lockPath, fn, signal, opts));
  const tail = run.catch(() => {});
  inProcess.set(lockPath, tail);
  try {
    return await run;
  } finally {
    if (inProcess.get(lockPath) === tail) inProcess.delete(lockPath);
  }
}

async function holdLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  signal: AbortSignal | undefined,
  opts: LockOptions,
): Promise<T> {
  const staleMs = opts.staleMs ?? 60_000;
  const deadline = Date.now() + (opts.timeoutMs ?? 5 * 60_000);
  const token = `${process.pid}\n${hostname()}\n${randomBytes(8).toString('hex')}\n`;
  let seen: { text: string; at: number } | undefined;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    if (await tryAcquire(lockPath, token)) break;
    const st = await lstat(lockPath).catch(() => undefined);
    if (st && !st.isFile()) {
      const what = st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
      throw new RegctlError('LOCK_INVALID', `${lockPath} is ${what}; regctl does not follow or use it`, {
        exitCode: 2,
        hint: 'regctl writes its locks as plain files: remove it if no regctl is writing to this layout',
      });
    }
    const text = st ? await readLock(lockPath) : undefined;
    if (text !== undefined && st) {
      if (seen?.text !== text) seen = { text, at: Date.now() };
      const age = Math.max(Date.now() - st.mtimeMs, Date.now() - seen.at);
      if (isStale(text, age, staleMs)) {
        await steal(lockPath, text);
        seen = undefined;
        continue;
      }
    }
    if (Date.now() > deadline) {
      throw new RegctlError('LOCK_TIMEOUT', `${lockPath}: still locked by another process`, {
        hint: 'if no regctl is running on this layout, remove the .lock file',
      });
    }
    const base = Math.min(200, 5 * 2 ** Math.min(attempt, 6));
    await sleep(base / 2 + Math.random() * base, signal);
  }
  try {
    return await fn();
  } finally {
    // Only remove the lock if it is still ours (a takeover after staleMs would have replaced it).
    const now = await readLock(lockPath);
    if (now === token) await unlink(lockPath).catch(() => {});
  }
}

/** Temporary files and directories to remove when an operation is aborted. */
export class TempTracker {
  private readonly paths = new Set<string>();

  add(path: string): string {
    this.paths.add(path);
    return path;
  }

  /** The path was renamed into place or removed: no longer ours to clean. */
  forget(path: string): void {
    this.paths.delete(path);
  }

  get size(): number {
    return this.paths.size;
  }

  async cleanup(): Promise<void> {
    const all = [...this.paths];
    this.paths.clear();
    await Promise.all(all.map((p) => rm(p, { recursive: true, force: true }).catch(() => {})));
  }
}

/** An error for hostile names in archives and layouts: bad input, exit status 2. */
export function unsafePath(what: string): RegctlError {
  return new RegctlError('UNSAFE_PATH', what, { exitCode: 2 });
}

/**
 * Normalises a relative slash-separated name (drops `.` and empty components); refuses absolute names, `..`
 * components, NUL and backslashes. Returns the cleaned name ('' for the root itself).
 */
export function cleanRelative(name: string): string {
  if (name.includes('\0')) throw unsafePath(`name contains NUL: ${JSON.stringify(name.slice(0, 100))}`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\')) {
    throw unsafePath(`absolute or non-portable name ${JSON.stringify(name.slice(0, 200))}`);
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafePath(`name escapes its root: ${JSON.stringify(name.slice(0, 200))}`);
  return parts.join('/');
}

/**
 * Creates `root` (a path the user named: followed if it is a link) and then the directories of `rel` under it one by
 * one, refusing any that is a symbolic link or not a directory (a planted `blobs/sha256 -> /elsewhere` is not written
 * through). Answers the directory's path.
 */
export async function mkdirInside(root: string, rel: string): Promise<string> {
  await mkdir(root, { recursive: true });
  let dir = root;
  for (const part of cleanRelative(rel).split('/').filter(Boolean)) {
    dir = join(dir, part);
    await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    const st = await lstat(dir);
    if (!st.isDirectory()) {
      const what = st.isSymbolicLink() ? 'a symbolic link' : 'not a directory';
      throw unsafePath(`${dir} is ${what}; not writing through it`);
    }
  }
  return dir;
}

/** Joins `name` under `root`, refusing names that would escape it. */
export function safeJoin(root: string, name: string): string {
  const clean = cleanRelative(name);
  if (clean === '') throw unsafePath(`empty name under ${root}`);
  return join(root, ...clean.split('/'));
}
