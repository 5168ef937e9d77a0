// Reading local files that came from outside: regular files only (never a device, FIFO or socket), capped reads, and
// where the file lives inside a tree we were pointed at (a layout), no symbolic link followed and no path leaving it.
import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { dirname, relative, isAbsolute } from 'node:path';
import { Readable, addAbortSignal } from 'node:stream';
import { RegctlError } from '../errors.js';
import { unsafePath } from './fs.js';

export interface OpenOptions {
  /** Refuse a symbolic link as the last component (O_NOFOLLOW). */
  noFollow?: boolean;
  /** The file must resolve inside this directory (its parent's real path is checked). */
  within?: string;
  /** How the file is named in errors (default: its path). */
  what?: string;
}

/**
 * Opens `path` read-only as a regular file. O_NONBLOCK so that a FIFO cannot hang the open; the type is checked on the
 * open descriptor (fstat), so nothing can be swapped in between a check and the read. ENOENT is passed on as is.
 */
async function openRegular(path: string, opts: OpenOptions = {}): Promise<FileHandle> {
  const what = opts.what ?? path;
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0);
  let fh: FileHandle;
  try {
    fh = await open(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (opts.noFollow && code === 'ELOOP') throw unsafePath(`${what} is a symbolic link; regctl does not follow it`);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new RegctlError('NOT_REGULAR', `${what} is not a regular file`, { exitCode: 2 });
    if (opts.within !== undefined) await checkWithin(opts.within, path, what);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Refuses a file whose directory resolves (through symbolic links) outside `root`. */
async function checkWithin(root: string, path: string, what = path): Promise<void> {
  const [top, dir] = await Promise.all([realpath(root), realpath(dirname(path))]);
  const rel = relative(top, dir);
  if (rel.startsWith('..') || isAbsolute(rel)) throw unsafePath(`${what} resolves outside ${root}`);
}

function tooLarge(what: string, cap: number): RegctlError {
  return new RegctlError('TOO_LARGE', `${what} is over the ${cap}-byte limit`, { exitCode: 2 });
}

/**
 * The whole of a regular file, refused once it is over `cap` bytes. The size a file claims is not trusted (procfs and
 * some FUSE files say 0): reading stops at cap + 1 bytes.
 */
export async function readRegular(
  path: string,
  cap: number,
  opts: OpenOptions & { signal?: AbortSignal } = {},
): Promise<Buffer> {
  const what = opts.what ?? path;
  const fh = await openRegular(path, opts);
  try {
    if ((await fh.stat()).size > cap) throw tooLarge(what, cap);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      opts.signal?.throwIfAborted();
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, cap + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > cap) throw tooLarge(what, cap);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}

/**
 * A stream of a regular file from `start`, opened without following a symbolic link and checked to be inside `within`
 * and exactly `size` bytes long before the first byte is read (a wrong size is refused, not streamed and caught late).
 */
export async function streamRegular(
  path: string,
  opts: OpenOptions & { size?: number; start?: number; signal?: AbortSignal },
): Promise<Readable> {
  const what = opts.what ?? path;
  const fh = await openRegular(path, { ...opts, noFollow: opts.noFollow ?? true });
  try {
    const { size } = await fh.stat();
    if (opts.size !== undefined && size !== opts.size) {
      const why = `${what} is ${size} bytes, but its descriptor says ${opts.size}`;
      throw new RegctlError('SIZE_MISMATCH', why, { exitCode: 2 });
    }
    const start = opts.start ?? 0;
    if (start > size) throw new RegctlError('RANGE', `${what}: offset ${start} is past its end`);
    if (start === size) {
      await fh.close();
      return Readable.from([]);
    }
    // Aborted while the file was opened: the caller's await fails. (Given an aborted signal, addAbortSignal destroys
    // the stream on the next tick, before the caller, resumed later, could listen: an unhandled 'error' killed it.)
    opts.signal?.throwIfAborted();
    const stream = fh.createReadStream({ start, end: size - 1, autoClose: true });
    return opts.signal ? addAbortSignal(opts.signal, stream) : stream;
  } catch (err) {
    await fh.close();
    throw err;
  }
}
