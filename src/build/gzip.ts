// Deterministic gzip on every core: 1 MiB chunks deflated in parallel (pigz's scheme: each primed with the previous 32 KiB),
// incompressible chunks stored; one pass gives the diffID (sha256 of the tar), the digest and the size of the gzip.
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Digest } from '../oci/digest.js';

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;
const CHUNK = 1024 * 1024;
const WINDOW = 32 * 1024;
const SAMPLE = 32 * 1024;
/** gzip header: no name, mtime 0, OS unknown (255) — what Go's gzip writer emits, the same on every host. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** A final, empty fixed-Huffman block: ends the deflate stream after the sync-flushed chunks. */
const FINAL_BLOCK = zlib.deflateRawSync(Buffer.alloc(0));

export interface Compressed {
  digest: Digest;
  diffId: Digest;
  /** Bytes of the gzip stream. */
  size: number;
  /** Bytes of the tar. */
  uncompressedSize: number;
}

/** Deflate's most bytes in one stored block. */
const STORED_MAX = 0xffff;

/**
 * The chunk as stored (uncompressed) deflate blocks, written here rather than by zlib: no thread-pool round trip and no
 * copy of the data (the blocks' 5-byte headers go between slices of the chunk). Each block starts on a byte boundary,
 * as every chunk does after the previous one's sync flush, and ends on one, so the next chunk can follow directly.
 */
function storedBlocks(chunk: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < chunk.length; off += STORED_MAX) {
    const len = Math.min(STORED_MAX, chunk.length - off);
    const h = Buffer.alloc(5); // BFINAL 0, BTYPE 00 (stored), then LEN and its one's complement
    h.writeUInt16LE(len, 1);
    h.writeUInt16LE(~len & 0xffff, 3);
    out.push(h, chunk.subarray(off, off + len));
  }
  return out;
}

async function deflateChunk(chunk: Buffer, dictionary: Buffer | undefined, level: number): Promise<Buffer | Buffer[]> {
  if (level > 0 && chunk.length >= SAMPLE) {
    // Random-looking data (already compressed files) costs deflate's full effort for nothing: store it.
    const probe = await deflateRaw(chunk.subarray(0, SAMPLE), { level: 1, chunkSize: SAMPLE * 2 });
    if (probe.length > SAMPLE * 0.97) level = 0;
  }
  if (level === 0) return storedBlocks(chunk);
  // One output buffer that fits the whole result: zlib's default 16 KiB makes a round trip per 16 KiB (7× slower stored).
  const opts: zlib.ZlibOptions = { level, finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: chunk.length + 64 * 1024 };
  if (dictionary && level > 0) opts.dictionary = dictionary;
  return deflateRaw(chunk, opts);
}

export class ParallelGzip {
  private readonly diff = createHash('sha256');
  private readonly comp = createHash('sha256');
  private crc = 0;
  private total = 0;
  private written = 0;
  private chunk = Buffer.allocUnsafe(CHUNK);
  private fill = 0;
  private prevTail: Buffer | undefined;
  private readonly pending: Promise<Buffer | Buffer[]>[] = [];
  private readonly maxPending = availableParallelism() + 1;
  private started = false;

  constructor(
    private readonly out: FileHandle,
    private readonly level = 6,
    /** Told the total bytes written after every write (a reader may follow the file). */
    private readonly onGrow?: (written: number) => void,
  ) {}

  private async emit(bufs: Buffer | Buffer[]): Promise<void> {
    for (const buf of Array.isArray(bufs) ? bufs : [bufs]) {
      this.comp.update(buf);
      this.written += buf.length;
      // Synchronous writes (into the page cache): the thread pool is left to deflate.
      let off = 0;
      while (off < buf.length) off += writeSync(this.out.fd, buf, off, buf.length - off);
    }
    this.onGrow?.(this.written);
  }

  private schedule(): void {
    const data = this.fill === CHUNK ? this.chunk : this.chunk.subarray(0, this.fill);
    const dict = this.prevTail;
    this.prevTail = Buffer.from(data.subarray(Math.max(0, data.length - WINDOW)));
    const p = deflateChunk(data, dict, this.level);
    p.catch(() => {});
    this.pending.push(p);
    this.chunk = Buffer.allocUnsafe(CHUNK);
    this.fill = 0;
  }

  private async drain(keep: number): Promise<void> {
    while (this.pending.length > keep) await this.emit(await this.pending.shift()!);
  }

  /** Adds tar bytes. The bytes are copied before this returns; await it for back-pressure. */
  async write(data: Uint8Array): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.emit(GZIP_HEADER);
    }
    this.diff.update(data);
    this.crc = zlib.crc32(data, this.crc);
    this.total += data.length;
    let off = 0;
    while (off < data.length) {
      const n = Math.min(CHUNK - this.fill, data.length - off);
      this.chunk.set(data.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === CHUNK) {
        this.schedule();
        if (this.pending.length >= this.maxPending) await this.drain(this.maxPending - 1);
      }
    }
  }

  async finish(): Promise<Compressed> {
    if (!this.started) {
      this.started = true;
      await this.emit(GZIP_HEADER);
    }
    if (this.fill > 0) this.schedule();
    await this.drain(0);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.total % 2 ** 32, 4);
    await this.emit(Buffer.concat([FINAL_BLOCK, trailer]));
    return {
      digest: `sha256:${this.comp.digest('hex')}` as Digest,
      diffId: `sha256:${this.diff.digest('hex')}` as Digest,
      size: this.written,
      uncompressedSize: this.total,
    };
  }

  /** Waits for chunks in flight (after a failure), so no worker writes into a closed file. */
  async discard(): Promise<void> {
    await Promise.allSettled(this.pending.splice(0));
  }
}
