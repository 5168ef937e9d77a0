// Deterministic tar packing (ustar, pax for long names and huge sizes): fixed modes, owners and mtimes, streamed file
// data.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar-header.js';

export interface PackEntry {
  name: string;
  type: 'file' | 'dir';
  /** A file on disk whose bytes become the entry (streamed). */
  source?: string;
  /** Or the entry's bytes in memory (small metadata only). */
  bytes?: Uint8Array;
}

/** The header block(s) of a packed entry: fixed mode, owner and mtime, so that archives are reproducible. */
export function headerBlocks(name: string, size: number, type: 'file' | 'dir'): Buffer {
  const bare = type === 'dir' ? name.replace(/\/$/, '') : name;
  return encodeHeader({ name: bare, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size, mtime: 0 });
}

/**
 * Packs `entries`, in the order given, into a new file at `out` (which must not exist), in one buffered stream; or,
 * with `start`, into the existing file `out` from that offset (the entries before it are already there).
 */
export async function packTar(out: string, entries: PackEntry[], signal?: AbortSignal, start?: number): Promise<void> {
  async function* tarStream(): AsyncGenerator<Uint8Array> {
    for (const e of entries) {
      signal?.throwIfAborted();
      if (e.type === 'dir') {
        yield headerBlocks(e.name, 0, 'dir');
        continue;
      }
      if (e.bytes) {
        yield headerBlocks(e.name, e.bytes.byteLength, 'file');
        yield e.bytes;
        yield padding(e.bytes.byteLength);
        continue;
      }
      const size = (await stat(e.source as string)).size;
      yield headerBlocks(e.name, size, 'file');
      let n = 0;
      for await (const chunk of createReadStream(e.source as string, {
        signal,
        highWaterMark: 4 << 20,
      }) as AsyncIterable<Buffer>) {
        n += chunk.byteLength;
        if (n > size) break;
        yield chunk;
      }
      if (n !== size) throw new Error(`${e.source} changed size while being packed`);
      yield padding(size);
    }
    yield END_OF_ARCHIVE;
  }
  const file = start === undefined ? { flags: 'wx', mode: 0o644 } : { flags: 'r+', start };
  await pipeline(
    Readable.from(tarStream()),
    createWriteStream(out, { ...file, highWaterMark: 4 << 20 }),
    signal ? { signal } : {},
  );
}
