// Random access to a tar file: one pass over its headers (ustar, pax, GNU long names) records where each entry's bytes
// lie.
import { constants, createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { RegctlError } from '../errors.js';
import { cleanRelative, unsafePath } from '../util/fs.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  name: string;
  /** Where the entry's data starts in the file. */
  offset: number;
  size: number;
  type: TarEntryType;
  linkname?: string;
}

/** pax extended headers and GNU long names are small; anything bigger is hostile. */
const MAX_META_BYTES = 1024 * 1024;
const BLOCK = 512;

export function tarError(path: string, why: string): RegctlError {
  return new RegctlError('TAR_INVALID', `${path}: ${why}`, { exitCode: 2 });
}

/** cleanRelative with the archive's path in the message. */
function cleanIn(path: string, name: string): string {
  try {
    return cleanRelative(name);
  } catch (err) {
    throw unsafePath(`${path}: ${(err as Error).message}`);
  }
}

function cstring(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

/** An octal or base-256 (GNU, for sizes ≥ 8 GiB) numeric field; undefined when malformed. */
function numeric(buf: Buffer, start: number, len: number): number | undefined {
  if (buf[start] & 0x80) {
    if (buf[start] === 0xff) return undefined; // negative
    let v = buf[start] & 0x7f;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + buf[i];
    return Number.isSafeInteger(v) ? v : undefined;
  }
  const text = buf
    .toString('latin1', start, start + len)
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = numeric(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** pax records: "LEN key=value\n". */
function parsePax(data: Buffer, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    const len = space < 0 ? NaN : Number(data.toString('latin1', pos, space));
    if (!Number.isSafeInteger(len) || len <= space - pos || pos + len > data.length)
      throw tarError(where, 'malformed pax header');
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq < 0) throw tarError(where, 'malformed pax record');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

function typeOf(flag: string, name: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return name.endsWith('/') ? 'dir' : 'file';
    case '5':
      return 'dir';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    default:
      return 'other';
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

export class TarIndex {
  private constructor(
    readonly path: string,
    private readonly entries: Map<string, TarEntry>,
  ) {}

  /** Indexes the tar at `path` without reading entry data; refuses hostile names and truncated files. */
  static async load(path: string, signal?: AbortSignal): Promise<TarIndex> {
    // O_NONBLOCK: a FIFO named as an archive is refused below instead of hanging the open.
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw tarError(path, 'not a regular file');
      return new TarIndex(path, await scan(fh, st.size, path, signal));
    } finally {
      await fh.close();
    }
  }

  /** Every entry name (cleaned: no leading `./`, no trailing `/`). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The raw entry, links not followed. */
  entry(name: string): TarEntry | undefined {
    return this.entries.get(cleanIn(this.path, name));
  }

  /** The regular-file entry `name` designates, following symlinks and hard links inside the archive. */
  resolve(name: string): TarEntry | undefined {
    let current = cleanIn(this.path, name);
    for (let hops = 0; hops < 40; hops++) {
      const parts = current.split('/');
      let next: string | undefined;
      for (let i = 1; i <= parts.length && next === undefined; i++) {
        const prefix = parts.slice(0, i).join('/');
        const e = this.entries.get(prefix);
        if (!e || (e.type !== 'symlink' && e.type !== 'hardlink')) continue;
        const rest = parts.slice(i).join('/');
        const target = e.type === 'symlink' ? posix.join(posix.dirname(prefix), e.linkname ?? '') : (e.linkname ?? '');
        next = cleanIn(this.path, rest ? `${target}/${rest}` : target);
      }
      if (next === undefined) {
        const e = this.entries.get(current);
        return e?.type === 'file' ? e : undefined;
      }
      current = next;
    }
    throw tarError(this.path, `too many links resolving ${name}`);
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  private need(name: string): TarEntry {
    const e = this.resolve(name);
    if (!e) throw new RegctlError('NOT_FOUND', `${this.path}: no file ${name} in the archive`, { exitCode: 2 });
    return e;
  }

  /** The bytes of entry `name` from `start`, as a ranged stream of the file. */
  open(name: string, opts: { start?: number; signal?: AbortSignal } = {}): Readable {
    const e = this.need(name);
    const start = opts.start ?? 0;
    if (start < 0 || start > e.size)
      throw new RegctlError('RANGE', `${this.path}: offset ${start} is past the end of ${name}`);
    if (start === e.size) return Readable.from([]);
    return createReadStream(this.path, { start: e.offset + start, end: e.offset + e.size - 1, signal: opts.signal });
  }

  /** The first `n` bytes of an entry (fewer when it is shorter). */
  async readHead(name: string, n: number, signal?: AbortSignal): Promise<Uint8Array> {
    const e = this.need(name);
    return this.readRange(e, Math.min(n, e.size), signal);
  }

  /** A whole entry, refused when over `cap` bytes. */
  async readBytes(name: string, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
    const e = this.need(name);
    if (e.size > cap)
      throw new RegctlError('TOO_LARGE', `${this.path}: ${name} is ${e.size} bytes, over the ${cap}-byte limit`, {
        exitCode: 2,
      });
    return this.readRange(e, e.size, signal);
  }

  /** A JSON entry (≤ 4 MiB). */
  async readJson(name: string, signal?: AbortSignal, cap = MAX_JSON_BYTES): Promise<unknown> {
    const bytes = await this.readBytes(name, cap, signal);
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      throw tarError(this.path, `${name} is not valid JSON`);
    }
  }

  private async readRange(e: TarEntry, n: number, signal?: AbortSignal): Promise<Uint8Array> {
    signal?.throwIfAborted();
    const fh = await open(this.path, 'r');
    try {
      const buf = await readAt(fh, e.offset, n);
      if (buf.length !== n) throw tarError(this.path, `${e.name} is truncated`);
      return buf;
    } finally {
      await fh.close();
    }
  }
}

async function scan(
  fh: FileHandle,
  fileSize: number,
  path: string,
  signal?: AbortSignal,
): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let pos = 0;
  for (let count = 0; ; count++) {
    if (count % 256 === 0) signal?.throwIfAborted();
    if (pos + BLOCK > fileSize) {
      // Ends on an entry boundary without the end-of-archive blocks (as Go's reader allows).
      if (pos === fileSize && pos > 0) break;
      throw tarError(
        path,
        fileSize === 0
          ? 'empty file, not a tar archive'
          : pos === 0
            ? `${fileSize} byte${fileSize === 1 ? '' : 's'}: too short to be a tar archive`
            : `truncated tar (header at byte ${pos} is cut short)`,
      );
    }
    const h = await readAt(fh, pos, BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    if (!checksumOk(h)) throw tarError(path, pos === 0 ? 'not a tar archive' : `corrupt tar header at byte ${pos}`);
    const flag = String.fromCharCode(h[156]);
    let size = numeric(h, 124, 12);
    if (size === undefined) throw tarError(path, `bad size field in the tar header at byte ${pos}`);
    if (pax.size !== undefined && flag !== 'x' && flag !== 'g') {
      size = Number(pax.size);
      if (!Number.isSafeInteger(size) || size < 0) throw tarError(path, `bad pax size at byte ${pos}`);
    }
    const dataOffset = pos + BLOCK;
    if (dataOffset + size > fileSize) throw tarError(path, `truncated tar (entry at byte ${pos} needs ${size} bytes)`);
    const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META_BYTES) throw tarError(path, `oversized ${flag} header at byte ${pos}`);
      const data = await readAt(fh, dataOffset, size);
      if (flag === 'x') pax = { ...pax, ...parsePax(data, path) };
      else if (flag === 'L') longName = cstring(data, 0, data.length);
      else if (flag === 'K') longLink = cstring(data, 0, data.length);
      // 'g' (global) headers carry defaults such as mtime only; names in them are ignored.
      pos = next;
      continue;
    }
    const magic = h.toString('latin1', 257, 263);
    const prefix = magic === 'ustar\0' ? cstring(h, 345, 155) : '';
    const rawName = pax.path ?? longName ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
    const rawLink = pax.linkpath ?? longLink ?? cstring(h, 157, 100);
    pax = {};
    longName = longLink = undefined;
    const type = typeOf(flag, rawName);
    const name = cleanIn(path, rawName);
    const entry: TarEntry = { name, offset: dataOffset, size: type === 'file' ? size : 0, type };
    if (type === 'symlink') {
      if (rawLink.startsWith('/') || rawLink.includes('\0'))
        throw unsafePath(`${path}: link ${name} points outside the archive (${rawLink})`);
      const target = posix.normalize(posix.join(posix.dirname(name), rawLink));
      if (target === '..' || target.startsWith('../'))
        throw unsafePath(`${path}: link ${name} escapes the archive (${rawLink})`);
      entry.linkname = rawLink;
    } else if (type === 'hardlink') {
      entry.linkname = cleanIn(path, rawLink);
      if (entry.linkname === '') throw unsafePath(`${path}: hard link ${name} has no target`);
    }
    if (name !== '') entries.set(name, entry);
    pos = next;
  }
  return entries;
}
