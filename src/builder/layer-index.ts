// The directory tree of base layers without their bytes: each layer streamed once into a small index (names, types,
// modes, owners, link targets), kept per layer digest in the user's cache dir (a layer never changes).
import { mkdir, open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { Descriptor } from '../oci/manifest.js';
import { writeAtomic } from '../util/fs.js';
import type { Bytes } from '../transports/types.js';

/**
 * One entry of a layer, as the tar has it: f file, d dir, l symlink, h hard link, s special; whiteouts are files named
 * `.wh.*` and are applied by the reader.
 */
export interface MetaEntry {
  path: string;
  type: 'f' | 'd' | 'l' | 'h' | 's';
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  link?: string;
}

/** A cached index over this size is not trusted (a base layer of a million files is ~60 MiB of index). */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;
const VERSION = 1;

export function layerIndexDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'regctl', 'layer-index', 'v1');
}

function cachePath(dir: string, desc: Descriptor): string {
  const [alg, hex] = desc.digest.split(':');
  return join(dir, `${alg}-${hex}.json`);
}

function valid(x: unknown): x is { v: number; digest: string; entries: MetaEntry[] } {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as { v?: unknown; entries?: unknown };
  if (o.v !== VERSION || !Array.isArray(o.entries)) return false;
  return o.entries.every(
    (e: MetaEntry) =>
      typeof e?.path === 'string' &&
      typeof e.type === 'string' &&
      e.type.length === 1 &&
      'fdlhs'.includes(e.type) &&
      [e.mode, e.uid, e.gid].every(Number.isInteger),
  );
}

/** Reads a cached index: a regular file (never through a symlink), capped; anything else counts as absent. */
async function readCached(file: string, desc: Descriptor): Promise<MetaEntry[] | undefined> {
  const { constants } = await import('node:fs');
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_INDEX_BYTES) return undefined;
    const parsed: unknown = JSON.parse(await fh.readFile('utf8'));
    if (!valid(parsed) || parsed.digest !== desc.digest) return undefined;
    return parsed.entries;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** Streams a layer (its bytes already verified by `open`) and lists its entries; file bytes are skipped. */
async function indexLayer(what: string, bytes: Bytes, signal: AbortSignal): Promise<MetaEntry[]> {
  const { decompressed } = await import('./decompress.js');
  const extract = tar.extract();
  const feeding = pipeline(Readable.from(decompressed(bytes, what)), extract, { signal });
  feeding.catch(() => {});
  const out: MetaEntry[] = [];
  for await (const entry of extract) {
    const h = entry.header;
    const mode = (h.mode ?? 0o644) & 0o7777;
    const e: MetaEntry = { path: h.name, type: 'f', mode, uid: h.uid ?? 0, gid: h.gid ?? 0 };
    if (h.type === 'directory') e.type = 'd';
    else if (h.type === 'symlink') Object.assign(e, { type: 'l', link: h.linkname ?? '' });
    else if (h.type === 'link') Object.assign(e, { type: 'h', link: h.linkname ?? '' });
    else if (h.type === 'file' || h.type === 'contiguous-file') e.size = h.size ?? 0;
    else e.type = 's';
    out.push(e);
    entry.resume();
  }
  await feeding;
  return out;
}

export interface IndexCache {
  /** The cache directory; undefined keeps indexes in memory only. */
  dir?: string;
  /** Counters for the build's summary and tests: layers read to index them, and their bytes. */
  read: { layers: number; bytes: number };
}

/** The index of one layer: from the cache, else made from the layer's bytes (then cached). */
export async function layerIndex(
  cache: IndexCache,
  desc: Descriptor,
  open: (s: AbortSignal) => Promise<Bytes>,
  what: string,
  signal: AbortSignal,
): Promise<MetaEntry[]> {
  const file = cache.dir ? cachePath(cache.dir, desc) : undefined;
  if (file) {
    const hit = await readCached(file, desc);
    if (hit) return hit;
  }
  const bytes = await open(signal);
  const counted = (async function* () {
    for await (const c of bytes) {
      cache.read.bytes += c.byteLength;
      yield c;
    }
  })();
  const entries = await indexLayer(what, counted, signal);
  cache.read.layers++;
  if (file && cache.dir) {
    try {
      await mkdir(cache.dir, { recursive: true, mode: 0o700 });
      await writeAtomic(file, Buffer.from(JSON.stringify({ v: VERSION, digest: desc.digest, entries })), signal);
    } catch {
      // A cache that cannot be written only costs the next build a download.
    }
  }
  return entries;
}
