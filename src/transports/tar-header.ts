// Deterministic tar headers: ustar, with PAX records only where ustar cannot hold a value (long or non-ASCII names, big
// ids).
import { posix } from 'node:path';

export interface TarHeader {
  /** Relative path, no leading slash; directories get their trailing slash here. */
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'link';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
}

const BLOCK = 512;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

function octal(buf: Buffer, off: number, len: number, n: number): void {
  buf.write(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len, 'ascii');
}

const isAscii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);

/** Splits a long name into ustar prefix (≤155 bytes) and name (≤100 bytes) at a slash; undefined when impossible. */
function splitUstar(name: string): [string, string] | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return ['', name];
  for (let i = name.indexOf('/'); i >= 0 && i <= 155; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return [prefix, rest];
  }
  return undefined;
}

function paxRecords(records: Array<[string, string]>): Buffer {
  let out = '';
  for (const [k, v] of records.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const body = ` ${k}=${v}\n`;
    const bodyLen = Buffer.byteLength(body);
    let len = bodyLen + 1;
    while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
    out += `${len}${body}`;
  }
  return Buffer.from(out, 'utf8');
}

function block(h: {
  name: string;
  prefix: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
}): Buffer {
  const buf = Buffer.alloc(BLOCK);
  buf.write(h.name, 0, 100, 'utf8');
  octal(buf, 100, 8, h.mode);
  octal(buf, 108, 8, h.uid);
  octal(buf, 116, 8, h.gid);
  octal(buf, 124, 12, h.size);
  octal(buf, 136, 12, h.mtime);
  buf.write('        ', 148, 8, 'ascii');
  buf.write(h.typeflag, 156, 1, 'ascii');
  buf.write(h.linkname, 157, 100, 'utf8');
  buf.write('ustar\0', 257, 6, 'ascii');
  buf.write('00', 263, 2, 'ascii');
  octal(buf, 329, 8, 0);
  octal(buf, 337, 8, 0);
  buf.write(h.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i];
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return buf;
}

/** The header block(s) of one entry: a PAX extended header first when needed. */
export function encodeHeader(h: TarHeader): Buffer {
  const name = h.type === 'dir' ? `${h.name}/` : h.name;
  const typeflag = h.type === 'dir' ? '5' : h.type === 'symlink' ? '2' : h.type === 'link' ? '1' : '0';
  const linkname = h.linkname ?? '';
  const pax: Array<[string, string]> = [];
  const split = splitUstar(name);
  if (!split) pax.push(['path', name]);
  if (Buffer.byteLength(linkname) > 100 || !isAscii(linkname)) pax.push(['linkpath', linkname]);
  if (h.uid > MAX_OCTAL_7) pax.push(['uid', String(h.uid)]);
  if (h.gid > MAX_OCTAL_7) pax.push(['gid', String(h.gid)]);
  if (h.size > MAX_OCTAL_11) pax.push(['size', String(h.size)]);
  const main = block({
    name: split ? split[1] : asciiTail(name, 100),
    prefix: split ? split[0] : '',
    typeflag,
    mode: h.mode & 0o7777,
    uid: Math.min(h.uid, MAX_OCTAL_7),
    gid: Math.min(h.gid, MAX_OCTAL_7),
    size: Math.min(h.size, MAX_OCTAL_11),
    mtime: Math.min(Math.max(0, Math.floor(h.mtime)), MAX_OCTAL_11),
    linkname: pax.some((p) => p[0] === 'linkpath') ? asciiTail(linkname, 100) : linkname,
  });
  if (pax.length === 0) return main;
  const records = paxRecords(pax);
  const paxName = asciiTail(posix.join(posix.dirname(name), 'PaxHeaders.0', posix.basename(name)), 100);
  const paxHeader = block({
    name: paxName,
    prefix: '',
    typeflag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: 0,
    linkname: '',
  });
  return Buffer.concat([paxHeader, records, padding(records.length), main]);
}

/** A stand-in ustar name for readers that ignore PAX: the name's ASCII tail. */
function asciiTail(s: string, max: number): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= max ? ascii : ascii.slice(ascii.length - max);
}

/** Zero bytes that round `size` up to a whole block. */
export function padding(size: number): Buffer {
  const rem = size % BLOCK;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rem);
}
