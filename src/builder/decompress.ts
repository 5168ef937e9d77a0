// Decompression by content for layers and ADD archives: gzip, zstd (where this Node has it), and for archives bzip2 and
// xz through the system's bzip2/xz tools; an optional cap stops a stream that unpacks to more than it may (bombs).
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { RegctlError, UsageError } from '../errors.js';
import type { Bytes } from '../transports/types.js';

export interface DecompressOptions {
  /** bzip2 and xz are accepted (ADD archives); layers are gzip, zstd or plain. */
  archives?: boolean;
  /** Stop after this many decompressed bytes with `overCap()`'s error (counted in `counter`, shared by calls). */
  cap?: number;
  counter?: { n: number };
  overCap?: () => Error;
  signal?: AbortSignal;
}

export type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | undefined;

function sniffCompression(head: Uint8Array): Compression {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return 'bzip2';
  if (b[0] === 0xfd && b.subarray(1, 6).toString('latin1') === '7zXZ\0') return 'xz';
  return undefined;
}

/** Pipes bytes through `bzip2 -dc` / `xz -dc`; the tool's failure (or absence) is one clear error. */
async function* throughTool(
  tool: 'bzip2' | 'xz',
  src: AsyncIterable<Uint8Array>,
  what: string,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'], signal });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  const spawned = new Promise<void>((res, rej) => {
    child.once('spawn', res);
    child.once('error', rej);
  });
  const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  try {
    await spawned;
  } catch (err) {
    const why = (err as Error).message;
    const msg = `${what}: a ${tool} archive needs the ${tool} tool, which did not start (${why})`;
    throw new RegctlError('UNSUPPORTED', msg, { exitCode: 2 });
  }
  const feeding = pipeline(Readable.from(src), child.stdin).catch(() => {});
  let complete = false;
  try {
    for await (const c of child.stdout) yield c as Buffer;
    complete = true;
  } finally {
    if (!complete) child.kill('SIGKILL');
    await feeding;
  }
  const code = await exited;
  if (code !== 0) {
    throw new UsageError(`${what}: ${tool} could not unpack it: ${stderr.trim().split('\n')[0] || `exit ${code}`}`);
  }
}

/** The decompressed bytes of a layer or archive (plain bytes pass through). */
export async function* decompressed(src: Bytes, what: string, opts: DecompressOptions = {}): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = Buffer.from(first.value);
  const rest = (async function* () {
    try {
      yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
    } finally {
      await it.return?.(); // a reader that stops early closes the source (its file, its connection)
    }
  })();
  /** Pipes through a transform; when the reader stops early, the source is let go too. */
  const through = (t: NodeJS.ReadWriteStream): AsyncIterable<Buffer> => {
    const src = Readable.from(rest);
    (t as unknown as NodeJS.EventEmitter).once('close', () => src.destroy());
    return src.pipe(t) as AsyncIterable<Buffer>;
  };
  const kind = sniffCompression(head);
  let out: AsyncIterable<Buffer>;
  if (kind === 'gzip') out = through(zlib.createGunzip());
  else if (kind === 'zstd') {
    const z = zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream };
    if (!z.createZstdDecompress) {
      throw new RegctlError('UNSUPPORTED', `${what}: zstd layers need Node.js 22.15 or later`);
    }
    out = through(z.createZstdDecompress());
  } else if (kind === 'bzip2' || kind === 'xz') {
    if (!opts.archives) throw new UsageError(`${what}: ${kind} layers are not supported`);
    out = throughTool(kind, rest, what, opts.signal);
  } else out = rest;
  const counter = opts.counter ?? { n: 0 };
  for await (const c of out) {
    counter.n += c.byteLength;
    if (opts.cap !== undefined && counter.n > opts.cap) {
      throw opts.overCap?.() ?? new UsageError(`${what}: unpacks to more than ${opts.cap} bytes`);
    }
    yield c;
  }
}
