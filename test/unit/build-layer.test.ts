// Layers: the parallel gzip is valid gzip whose digests match, entries come back as written, and the same input gives
// the same bytes.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayer } from '../../src/builder/layer.js';
import type { LayerEntry } from '../../src/builder/tree.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const signal = new AbortController().signal;

async function entriesOf(tar: Buffer) {
  const ex = extract();
  const out: Array<Record<string, unknown>> = [];
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      const h = e.header;
      out.push({
        name: h.name,
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime?.getTime(),
        linkname: h.linkname ?? undefined,
        body: Buffer.concat(chunks).toString('latin1'),
      });
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

describe('writeLayer', () => {
  let dir: string;
  let big: Buffer;
  let entries: LayerEntry[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'regctl-layer-'));
    // Incompressible and compressible parts, several 1 MiB chunks: both chunk paths and their joins are exercised.
    big = Buffer.concat([randomBytes(1_500_000), Buffer.alloc(2_100_000, 'abcdefgh'), randomBytes(700_000)]);
    writeFileSync(join(dir, 'big'), big);
    writeFileSync(join(dir, 'small'), 'hello');
    entries = [
      { path: 'app', type: 'dir', mode: 0o755, uid: 1000, gid: 1000, size: 0 },
      {
        path: 'app/big.bin',
        type: 'file',
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        size: big.length,
        hostPath: join(dir, 'big'),
      },
      { path: 'app/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, linkname: 'big.bin' },
      {
        path: `app/${'n'.repeat(150)}/é.txt`,
        type: 'file',
        mode: 0o600,
        uid: 0,
        gid: 0,
        size: 5,
        hostPath: join(dir, 'small'),
      },
    ];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes valid gzip whose digest, diffID and sizes match the bytes, with entries as given', async () => {
    const l = await writeLayer(entries, { dir, mtime: 1_700_000_000, signal });
    const gz = readFileSync(l.path);
    expect(l.digest).toBe(sha(gz));
    expect(l.size).toBe(gz.length);
    const tar = gunzipSync(gz);
    // Another decoder agrees (GNU gzip checks the CRC and length too): the stored blocks regctl writes itself included.
    execFileSync('gzip', ['-t', l.path]);
    expect(execFileSync('gzip', ['-dc', l.path], { maxBuffer: 64 << 20 }).equals(tar)).toBe(true);
    expect(l.diffId).toBe(sha(tar));
    expect(l.uncompressedSize).toBe(tar.length);
    expect(gz.length).toBeLessThan(tar.length);
    const got = await entriesOf(tar);
    expect(got.map((e) => [e.name, e.type, e.mode, e.uid, e.mtime])).toEqual([
      ['app/', 'directory', 0o755, 1000, 1_700_000_000_000],
      ['app/big.bin', 'file', 0o644, 1000, 1_700_000_000_000],
      ['app/link', 'symlink', 0o777, 0, 1_700_000_000_000],
      [`app/${'n'.repeat(150)}/é.txt`, 'file', 0o600, 0, 1_700_000_000_000],
    ]);
    expect(Buffer.from(got[1].body as string, 'latin1').equals(big)).toBe(true);
    expect(got[2].linkname).toBe('big.bin');
  });

  it('gives the same bytes for the same entries', async () => {
    const [a, b] = [
      await writeLayer(entries, { dir, mtime: 0, signal }),
      await writeLayer(entries, { dir, mtime: 0, signal }),
    ];
    expect(a.digest).toBe(b.digest);
    expect(readFileSync(a.path).equals(readFileSync(b.path))).toBe(true);
  });

  it('can be read from the start while it is written (a streaming upload), twice', async () => {
    const reads: Promise<Buffer>[] = [];
    const all = async (it: AsyncIterable<Uint8Array>) => {
      const parts: Uint8Array[] = [];
      for await (const c of it) parts.push(c);
      return Buffer.concat(parts);
    };
    const l = await writeLayer(entries, {
      dir,
      mtime: 0,
      signal,
      onStart: (file) => {
        reads.push(all(file.read(signal)));
        setTimeout(() => reads.push(all(file.read(signal))), 1);
      },
    });
    await new Promise((r) => setTimeout(r, 5));
    const whole = readFileSync(l.path);
    for (const b of await Promise.all(reads)) expect(b.equals(whole)).toBe(true);
  });

  it('refuses a file that changed size while it was read', async () => {
    const wrong = [{ ...entries[1], size: big.length + 10 }];
    await expect(writeLayer(wrong, { dir, mtime: 0, signal })).rejects.toThrow(/changed while it was being read/);
  });
});
