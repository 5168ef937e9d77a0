// Deterministic tar packing (ustar, pax for long names and huge sizes): fixed modes, owners and mtimes, streamed file data.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface PackEntry {
  name: string;
  type: 'file' | 'dir';
  /** A file on disk whose bytes become the entry (streamed). */
  source?: string;
  /** Or the entry's bytes in memory (small metadata only). */
  bytes?: Uint8Array;
}

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777;

function octal(h: Buffer, value: number, start: number, len: number): void {
  h.write(`${value.toString(8).padStart(len - 1, '0')}\0`, start, len, 'latin1');
}

function header(name: string, size: number, flag: string, mode: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, mode, 100, 8);
  octal(h, 0, 108, 8); // uid
  octal(h, 0, 116, 8); // gid
  octal(h, size, 124, 12);
  octal(h, 0, 136, 12); // mtime: fixed, for reproducible archives
  h.write(flag, 156, 1, 'latin1');
  h.write('ustar\x0000', 257, 8, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest ? BLOCK - rest : 0);
}

/** The header blocks for an entry: a plain ustar header, preceded by a pax header when the name or size does not fit. */
export function headerBlocks(name: string, size: number, type: 'file' | 'dir'): Buffer {
  const full = type === 'dir' && !name.endsWith('/') ? `${name}/` : name;
  const records: string[] = [];
  if (Buffer.byteLength(full) > 100 || !/^[\x20-\x7e]*$/.test(full)) records.push(paxRecord('path', full));
  if (size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(size)));
  const flag = type === 'dir' ? '5' : '0';
  const mode = type === 'dir' ? 0o755 : 0o644;
  const main = header(records.length ? full.slice(-100).replace(/[^\x20-\x7e]/g, '_') : full, Math.min(size, MAX_OCTAL_SIZE), flag, mode);
  if (!records.length) return main;
  const data = Buffer.from(records.join(''), 'utf8');
  return Buffer.concat([header('PaxHeader', data.length, 'x', 0o644), data, padding(data.length), main]);
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
      for await (const chunk of createReadStream(e.source as string, { signal, highWaterMark: 4 << 20 }) as AsyncIterable<Buffer>) {
        n += chunk.byteLength;
        if (n > size) break;
        yield chunk;
      }
      if (n !== size) throw new Error(`${e.source} changed size while being packed`);
      yield padding(size);
    }
    yield Buffer.alloc(BLOCK * 2);
  }
  const file = start === undefined ? { flags: 'wx', mode: 0o644 } : { flags: 'r+', start };
  await pipeline(Readable.from(tarStream()), createWriteStream(out, { ...file, highWaterMark: 4 << 20 }), signal ? { signal } : {});
}
