// One layer from a COPY: a deterministic tar (sorted entries, one mtime, owners and modes as asked) gzip'd into a temp
// file.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { RegctlError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Bytes, ImageSource } from '../transports/types.js';
import { GrowingFile } from './growing.js';
import { ParallelGzip } from './gzip.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../transports/tar-header.js';
import type { LayerEntry } from './tree.js';

export interface BuiltLayer {
  /** The gzip'd tar on this machine; absent for a layer reused from a destination (see `from`). */
  path?: string;
  /** Where a reused layer's blob is (the destination's image that has the same diffID). */
  from?: ImageSource;
  digest: Digest;
  diffId: Digest;
  size: number;
  uncompressedSize: number;
  entries: number;
}

export interface LayerOptions {
  dir: string;
  /** Seconds since the epoch for every entry (SOURCE_DATE_EPOCH, else 0). */
  mtime: number;
  level?: number;
  signal: AbortSignal;
  /** Called when writing starts, with the file as it grows (to stream it while it is made). */
  onStart?: (file: GrowingFile) => void;
}

let counter = 0;
const READ = 1024 * 1024;

/** Feeds the tar of the entries (already sorted and unique) to `sink`; nothing host-specific goes in. */
async function tarTo(
  entries: LayerEntry[],
  mtime: number,
  signal: AbortSignal,
  sink: (b: Uint8Array) => Promise<void> | void,
): Promise<void> {
  const buf = Buffer.allocUnsafe(READ);
  for (const e of entries) {
    signal.throwIfAborted();
    await sink(
      encodeHeader({
        name: e.path,
        type: e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        size: e.size,
        mtime,
        linkname: e.linkname,
      }),
    );
    if (e.type !== 'file' || e.size === 0) continue;
    // Synchronous reads: small files cost one syscall each, and deflate runs on the thread pool meanwhile.
    const fd = openSync(e.hostPath!, 'r');
    let left = e.size;
    try {
      while (left > 0) {
        signal.throwIfAborted();
        const n = readSync(fd, buf, 0, Math.min(READ, left), null);
        if (n === 0) break;
        left -= n;
        await sink(buf.subarray(0, n));
      }
      if (left !== 0 || readSync(fd, buf, 0, 1, null) !== 0) {
        throw new RegctlError('CONTEXT_CHANGED', `${e.hostPath} changed while it was being read (size was ${e.size})`);
      }
    } finally {
      closeSync(fd);
    }
    await sink(padding(e.size));
  }
  await sink(END_OF_ARCHIVE);
}

/** The diffID (sha256 of the tar) and tar size of the entries, without compressing: a fifth of the work. */
export async function hashLayer(
  entries: LayerEntry[],
  mtime: number,
  signal: AbortSignal,
): Promise<{ diffId: Digest; uncompressedSize: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await tarTo(entries, mtime, signal, (b) => {
    hash.update(b);
    size += b.byteLength;
  });
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, uncompressedSize: size };
}

/** Writes the entries as a gzip'd tar into a temp file. */
export async function writeLayer(entries: LayerEntry[], opts: LayerOptions): Promise<BuiltLayer> {
  const path = join(opts.dir, `layer-${process.pid}-${++counter}.tar.gz`);
  const out = await open(path, 'w');
  const growing = new GrowingFile(path);
  const gz = new ParallelGzip(out, opts.level ?? 6, (n) => growing.grew(n));
  opts.onStart?.(growing);
  try {
    await tarTo(entries, opts.mtime, opts.signal, (b) => gz.write(b));
    const c = await gz.finish();
    growing.end();
    return { path, ...c, entries: entries.length };
  } catch (err) {
    growing.fail(err);
    await gz.discard();
    throw err;
  } finally {
    await out.close();
  }
}

/** A layer file's bytes from `offset`, for a destination's putBlob (restartable) or a source's getBlob. */
export async function* readLayerFile(path: string, offset = 0): Bytes {
  for await (const chunk of createReadStream(path, { start: offset, highWaterMark: READ })) yield chunk as Buffer;
}
