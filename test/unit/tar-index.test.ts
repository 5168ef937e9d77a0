// TarIndex (ustar, pax, GNU long names, links, ranged reads, truncation) and util/fs (safeJoin, writeAtomic, withLock,
// TempTracker).
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegctlError } from '../../src/errors.js';
import { TarIndex } from '../../src/transports/tar-index.js';
import { headerBlocks, packTar } from '../../src/transports/tar-write.js';
import { TempTracker, safeJoin, withLock, writeAtomic } from '../../src/util/fs.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { makeTar, readAll } from '../transports/local-helpers.js';

const run = promisify(execFile);
let tmp: string;
beforeAll(async () => {
  tmp = await makeTempDir('tarindex');
});
afterAll(async () => removeTempDir(tmp));

describe('TarIndex', () => {
  it('indexes pax long names, directories and links, and reads ranges without reading other data', async () => {
    const path = join(tmp, 'pax.tar');
    const long = `dir/${'n'.repeat(180)}/file.json`;
    await makeTar(path, [
      { name: 'dir/', type: 'directory' },
      { name: long, body: '{"a":1}' },
      { name: './plain.txt', body: 'hello world' },
      { name: 'alias', type: 'symlink', linkname: 'plain.txt' },
      { name: 'hard', type: 'link', linkname: 'plain.txt' },
      { name: 'dirlink', type: 'symlink', linkname: 'dir' },
    ]);
    const t = await TarIndex.load(path);
    expect(t.names().sort()).toEqual(['alias', 'dir', 'dirlink', 'hard', long, 'plain.txt'].sort());
    expect(await t.readJson(long)).toEqual({ a: 1 });
    expect(await t.readJson(`dirlink/${'n'.repeat(180)}/file.json`)).toEqual({ a: 1 });
    expect((await readAll(t.open('alias', { start: 6 }))).toString()).toBe('world');
    expect((await readAll(t.open('./hard'))).toString()).toBe('hello world');
    expect((await readAll(t.open('plain.txt', { start: 11 }))).length).toBe(0);
    expect(t.has('dir')).toBe(false); // a directory is no file
    expect(t.has('missing')).toBe(false);
    expect(() => t.open('missing')).toThrow(RegctlError);
    await expect(t.readJson('plain.txt')).rejects.toThrow(/not valid JSON/);
    await expect(t.readBytes('plain.txt', 5)).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });

  it('reads GNU long names (L/K) written by GNU tar', async () => {
    const src = join(tmp, 'gnu-src');
    const deep = `${'g'.repeat(90)}/${'h'.repeat(90)}`;
    await mkdir(join(src, deep), { recursive: true });
    await writeFile(join(src, deep, 'blob'), 'gnu!');
    await run('ln', ['-s', `${'h'.repeat(90)}/blob`, join(src, 'g'.repeat(90), `${'l'.repeat(110)}`)]);
    const path = join(tmp, 'gnu.tar');
    await run('tar', ['--format=gnu', '-cf', path, '-C', src, '.']);
    const t = await TarIndex.load(path);
    expect((await readAll(t.open(`${deep}/blob`))).toString()).toBe('gnu!');
    expect((await readAll(t.open(`${'g'.repeat(90)}/${'l'.repeat(110)}`))).toString()).toBe('gnu!');
  });

  it('accepts a tar ending on an entry boundary without end blocks; refuses a cut header, junk and empty files', async () => {
    const path = join(tmp, 'noend.tar');
    await makeTar(path, [{ name: 'a', body: 'x' }]);
    const full = await readFile(path);
    await writeFile(path, full.subarray(0, 1024));
    expect((await TarIndex.load(path)).has('a')).toBe(true);
    await writeFile(path, full.subarray(0, 1024 + 100));
    await expect(TarIndex.load(path)).rejects.toThrow(/truncated/);
    await writeFile(path, Buffer.alloc(0));
    await expect(TarIndex.load(path)).rejects.toThrow(/empty file/);
    await writeFile(path, Buffer.alloc(1024, 0x41));
    await expect(TarIndex.load(path)).rejects.toThrow(/not a tar archive/);
    await expect(TarIndex.load(tmp)).rejects.toBeInstanceOf(RegctlError);
  });

  it('refuses link loops instead of spinning', async () => {
    const path = join(tmp, 'loop.tar');
    await makeTar(path, [
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'b', type: 'symlink', linkname: 'a' },
    ]);
    const t = await TarIndex.load(path);
    expect(() => t.resolve('a')).toThrow(/too many links/);
  });

  it('honours an aborted signal', async () => {
    const path = join(tmp, 'sig.tar');
    await makeTar(path, [{ name: 'a', body: 'x' }]);
    const ac = new AbortController();
    ac.abort();
    await expect(TarIndex.load(path, ac.signal)).rejects.toBeDefined();
  });
});

describe('packTar', () => {
  it('writes names over 100 bytes and non-ASCII names through pax, readable by GNU tar and by TarIndex', async () => {
    const src = join(tmp, 'pack-src.bin');
    await writeFile(src, Buffer.alloc(1500, 3));
    const out = join(tmp, 'packed.tar');
    const long = `blobs/sha512/${'f'.repeat(128)}`;
    await packTar(out, [
      { name: 'blobs', type: 'dir' },
      { name: long, type: 'file', source: src },
      { name: 'héllo.json', type: 'file', bytes: Buffer.from('{}') },
    ]);
    const list = (await run('tar', ['-tf', out])).stdout.trim().split('\n');
    expect(list).toEqual(['blobs/', long, 'héllo.json']);
    const t = await TarIndex.load(out);
    expect(t.resolve(long)?.size).toBe(1500);
    expect(await t.readJson('héllo.json')).toEqual({});
    expect(headerBlocks('x', 1, 'file').length).toBe(512);
  });
});

describe('util/fs', () => {
  it('safeJoin refuses absolute names, .. components, NUL and backslashes', () => {
    expect(safeJoin('/root', 'a/./b//c')).toBe('/root/a/b/c');
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/..', 'a\0b', 'a\\..\\b', 'C:/x', '', '.']) {
      expect(() => safeJoin('/root', bad), bad).toThrow(RegctlError);
    }
  });

  it('writeAtomic replaces a file and leaves no temp', async () => {
    const p = join(tmp, 'atomic.json');
    await writeAtomic(p, Buffer.from('1'));
    await writeAtomic(p, Buffer.from('2'));
    expect(await readFile(p, 'utf8')).toBe('2');
    expect((await readdir(tmp)).filter((n) => n.includes('atomic.json.tmp'))).toEqual([]);
  });

  it('writeAtomic streams a body; a failing stream leaves no file, no temp, nothing tracked', async () => {
    const p = join(tmp, 'streamed.bin');
    async function* chunks(fail: boolean): AsyncGenerator<Uint8Array> {
      yield Buffer.from('ab');
      if (fail) throw new Error('digest mismatch');
      yield Buffer.from('cd');
    }
    const temps = new TempTracker();
    await expect(writeAtomic(p, chunks(true), undefined, { temps, sync: false })).rejects.toThrow(/digest mismatch/);
    expect((await readdir(tmp)).filter((n) => n.includes('streamed.bin'))).toEqual([]);
    expect(temps.size).toBe(0);
    await writeAtomic(p, chunks(false), undefined, { temps });
    expect(await readFile(p, 'utf8')).toBe('abcd');
    expect(temps.size).toBe(0);
  });

  it('withLock serialises holders and takes over a lock whose pid is dead or that is too old', async () => {
    const p = join(tmp, 'locked');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withLock(p, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    await writeFile(`${p}.lock`, `999999999\n${hostname()}\nx\n`);
    expect(await withLock(p, async () => 'took dead pid lock')).toBe('took dead pid lock');
    await writeFile(`${p}.lock`, `${process.pid}\nsome-other-host\nx\n`);
    const old = new Date(Date.now() - 120_000);
    await utimes(`${p}.lock`, old, old);
    expect(await withLock(p, async () => 'took old lock')).toBe('took old lock');
    await expect(stat(`${p}.lock`)).rejects.toBeDefined();
    await writeFile(`${p}.lock`, `${process.pid}\n${hostname()}\nlive\n`);
    await expect(withLock(p, async () => 1, undefined, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    await expect(withLock(p, async () => 1, ac.signal)).rejects.toBeDefined();
  });

  it('TempTracker removes what is registered and not forgotten', async () => {
    const t = new TempTracker();
    const a = t.add(join(tmp, 'tt-a'));
    const b = t.add(join(tmp, 'tt-b'));
    await writeFile(a, 'a');
    await mkdir(b);
    await writeFile(join(b, 'x'), 'x');
    const kept = t.add(join(tmp, 'tt-kept'));
    await writeFile(kept, 'k');
    t.forget(kept);
    await t.cleanup();
    expect((await readdir(tmp)).filter((n) => n.startsWith('tt-'))).toEqual(['tt-kept']);
  });
});
