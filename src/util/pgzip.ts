// Parallel, deterministic gzip (pigz's scheme): the input is cut into 1 MiB blocks, each raw-deflated on the libuv
// thread pool with the previous block's last 32 KiB as its dictionary and ended with a sync flush (so the blocks join
// into one deflate stream); one gzip header, a final empty block, CRC-32 and ISIZE. Incompressible blocks are written
// as stored blocks here, without zlib. Block size, dictionary and levels are fixed, so the bytes are the same on every
// machine whatever its core count or the concurrency asked for.
//
// The CRC-32 runs on the calling thread, incrementally (zlib.crc32, Node ≥ 20.15): it is far faster than level-1
// deflate (bench/README.md, "Start-up tricks and measured choices"), and zlib cannot compute it on the pool for a
// primed block (deflateSetDictionary refuses a gzip stream).
import { availableParallelism } from 'node:os';
import type * as Zlib from 'node:zlib';

/** Bytes per block: part of the format (changing it changes every digest). */
export const BLOCK = 1024 * 1024;
const WINDOW = 32 * 1024;
const SAMPLE = 32 * 1024;
/** Deflate's most bytes in one stored block. */
const STORED_MAX = 0xffff;
/** gzip header: no name, mtime 0, OS unknown (255) — what Go's gzip writer emits, the same on every host. */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** A final, empty fixed-Huffman block (BFINAL 1, BTYPE 01, end-of-block): ends the stream after the flushed blocks. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

let zlibModule: typeof Zlib | undefined;
/** zlib, loaded on first use (a command that compresses nothing never pays for it). */
function zlib(): typeof Zlib {
  return (zlibModule ??= process.getBuiltinModule('node:zlib'));
}

function deflateRaw(buf: Buffer, opts: Zlib.ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zlib().deflateRaw(buf, opts, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

/**
 * The block as stored (uncompressed) deflate blocks: no thread-pool round trip and no copy of the data (the 5-byte
 * headers go between slices of it). Each starts and ends on a byte boundary, as every block does after a sync flush.
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

async function deflateBlock(block: Buffer, dictionary: Buffer | undefined, level: number): Promise<Buffer[]> {
  if (level > 0 && block.length >= SAMPLE) {
    // Random-looking data (already compressed files) costs deflate's full effort for nothing: store it.
    const probe = await deflateRaw(block.subarray(0, SAMPLE), { level: 1, chunkSize: SAMPLE * 2 });
    if (probe.length > SAMPLE * 0.97) level = 0;
  }
  if (level === 0) return storedBlocks(block);
  // One output buffer that fits the whole result: zlib's default 16 KiB makes a round trip per 16 KiB.
  const { Z_SYNC_FLUSH } = zlib().constants;
  const opts: Zlib.ZlibOptions = { level, finishFlush: Z_SYNC_FLUSH, chunkSize: block.length + 64 * 1024 };
  if (dictionary) opts.dictionary = dictionary;
  return [await deflateRaw(block, opts)];
}

export interface PgzipOptions {
  /** zlib level, 0–9 (default 6). */
  level?: number;
  /** Blocks deflating at once (default: the cores, at most the thread pool's size); output does not depend on it. */
  concurrency?: number;
}

/** Blocks in flight in this process, all streams together (several layers compress at once). */
let blocksInFlight = 0;

/** Threads in libuv's pool: UV_THREADPOOL_SIZE, else 4 (libuv's default). */
function poolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n > 0 ? n : 4;
}

/**
 * The encoder: fill it with `take`, and while `full` (or at the end, while `pending`) hand on the output of `next()`,
 * in order. At most 2 × concurrency blocks are in flight, in this stream and in the process (each stream may always
 * have one, so every stream moves): more would only queue for the same threads. That bounds memory (≈ 4 MiB per
 * thread, plus 2 MiB per stream) and is the back-pressure. After an error, `settle()` waits for the blocks in flight.
 */
export class GzipBlocks {
  crc = 0;
  /** Bytes taken (the uncompressed size). */
  total = 0;
  private readonly level: number;
  private readonly max: number;
  private block = Buffer.allocUnsafe(BLOCK);
  private fill = 0;
  private prevTail: Buffer | undefined;
  private readonly inFlight: Promise<Buffer[]>[] = [];
  private headerSent = false;

  constructor(opts: PgzipOptions = {}) {
    this.level = opts.level ?? 6;
    const ok = Number.isInteger(this.level) && this.level >= 0 && this.level <= 9;
    if (!ok) throw new RangeError(`gzip level ${this.level}`);
    const threads = opts.concurrency ?? Math.min(availableParallelism(), poolSize());
    this.max = 2 * Math.max(1, threads);
  }

  /** Copies bytes of `data` from `off` into the current block (scheduling it when it fills); returns the new offset. */
  take(data: Uint8Array, off = 0): number {
    const n = Math.min(BLOCK - this.fill, data.length - off);
    const part = data.subarray(off, off + n);
    this.block.set(part, this.fill);
    this.crc = zlib().crc32(part, this.crc);
    this.total += n;
    this.fill += n;
    if (this.fill === BLOCK) this.schedule();
    return off + n;
  }

  /** As many blocks in flight as allowed: hand on `next()` before taking more. */
  get full(): boolean {
    const mine = this.inFlight.length;
    return mine >= this.max || (mine > 0 && blocksInFlight >= this.max);
  }

  get pending(): number {
    return this.inFlight.length;
  }

  /** Schedules the last, partial block: call once, after the last `take`. */
  end(): void {
    if (this.fill > 0) this.schedule();
  }

  /** The next output in order (the header first); with nothing in flight, only the header, once. */
  async next(): Promise<Buffer[]> {
    const head = this.headerSent ? [] : [GZIP_HEADER];
    this.headerSent = true;
    const p = this.inFlight.shift();
    if (!p) return head;
    try {
      return [...head, ...(await p)];
    } finally {
      blocksInFlight--;
    }
  }

  /** The end of the stream: the final block, CRC-32 and ISIZE (after every `next()` is handed on). */
  trailer(): Buffer {
    const t = Buffer.alloc(10);
    FINAL_BLOCK.copy(t, 0);
    t.writeUInt32LE(this.crc >>> 0, 2);
    t.writeUInt32LE(this.total % 2 ** 32, 6);
    return this.headerSent ? t : Buffer.concat([GZIP_HEADER, t]);
  }

  /** Waits for the blocks in flight (after a failure), so none outlives its stream. */
  async settle(): Promise<void> {
    const left = this.inFlight.splice(0);
    await Promise.allSettled(left);
    blocksInFlight -= left.length;
  }

  private schedule(): void {
    const data = this.fill === BLOCK ? this.block : this.block.subarray(0, this.fill);
    const dict = this.prevTail;
    this.prevTail = Buffer.from(data.subarray(Math.max(0, data.length - WINDOW)));
    const p = deflateBlock(data, dict, this.level);
    p.catch(() => {}); // seen by next() or settle()
    this.inFlight.push(p);
    blocksInFlight++;
    this.block = Buffer.allocUnsafe(BLOCK);
    this.fill = 0;
  }
}

/** gzip of a byte stream, compressed in parallel; pulls the source only as fast as its output is consumed. */
export async function* pgzip(src: AsyncIterable<Uint8Array>, opts: PgzipOptions = {}): AsyncGenerator<Buffer> {
  const enc = new GzipBlocks(opts);
  try {
    for await (const chunk of src) {
      for (let off = 0; off < chunk.length;) {
        off = enc.take(chunk, off);
        while (enc.full) yield* await enc.next();
      }
    }
    enc.end();
    while (enc.pending) yield* await enc.next();
    yield enc.trailer();
  } finally {
    await enc.settle();
  }
}
