// The build context and COPY rules: .dockerignore matching, sources and destinations, escapes, symlinks, special files,
// tar headers.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildContext } from '../../src/builder/context.js';
import { planCopy, resolveDest } from '../../src/builder/copy-plan.js';
import { IgnoreMatcher, readIgnoreFile } from '../../src/builder/ignore.js';
import { encodeHeader } from '../../src/transports/tar-header.js';
import { segmentRegex } from '../../src/builder/tree.js';

describe('.dockerignore matching (Docker patternmatcher rules)', () => {
  it.each<[string[], string, boolean]>([
    [['*.log'], 'a.log', true],
    [['*.log'], 'dir/a.log', false],
    [['**/*.log'], 'dir/sub/a.log', true],
    [['**/*.log'], 'a.log', true],
    [['node_modules'], 'node_modules/x/y.js', true],
    [['/node_modules'], 'node_modules', true],
    [['dir/'], 'dir/file', true],
    [['dir/*'], 'dir/file', true],
    [['dir/*'], 'dir', false],
    [['*', '!keep.txt'], 'keep.txt', false],
    [['*', '!keep.txt'], 'other.txt', true],
    [['docs', '!docs/README.md'], 'docs/README.md', false],
    [['docs', '!docs/README.md'], 'docs/other.md', true],
    [['!docs/README.md', 'docs'], 'docs/README.md', true],
    [['a?c'], 'abc', true],
    [['a?c'], 'a/c', false],
    [['[a-c].txt'], 'b.txt', true],
    [['[!a-c].txt'], 'b.txt', false],
    [['**'], 'anything/at/all', true],
    [['a/**/b'], 'a/b', true],
    [['a/**/b'], 'a/x/y/b', true],
    [['./x/../y'], 'y', true],
    [['file.(1)'], 'file.(1)', true],
  ])('%j on %s → %s', (patterns, path, ignored) => {
    expect(new IgnoreMatcher(readIgnoreFile(patterns.join('\n'))).ignores(path)).toBe(ignored);
  });

  it('reads comments, blank lines and a BOM', () => {
    expect(readIgnoreFile('\uFEFF# comment\n\n  *.tmp  \n!  keep.tmp\n/abs/\n')).toEqual(['*.tmp', '!keep.tmp', 'abs']);
  });

  it('walks an ignored directory only when an exception may re-include something in it', () => {
    const m = new IgnoreMatcher(['docs', '!docs/README.md', 'node_modules']);
    expect(m.mayReinclude('docs')).toBe(true);
    expect(m.mayReinclude('node_modules')).toBe(false);
  });
});

describe('COPY source segments (filepath.Match)', () => {
  it.each<[string, string, boolean]>([
    ['*.txt', 'a.txt', true],
    ['*.txt', '.txt', true],
    ['a?', 'ab', true],
    ['[abc]x', 'bx', true],
    ['[!abc]x', 'bx', false],
    ['a\\*', 'a*', true],
  ])('%s ~ %s → %s', (pattern, name, ok) => {
    expect(segmentRegex(pattern).test(name)).toBe(ok);
  });
});

describe('COPY destinations', () => {
  it.each<[string, string, string, boolean]>([
    ['/app/', '/', 'app', true],
    ['/app', '/', 'app', false],
    ['.', '/work', 'work', true],
    ['sub/', '/work', 'work/sub', true],
    ['file', '/work', 'work/file', false],
    ['/', '/work', '', true],
    ['../x', '/a/b', 'a/x', false],
  ])('%s in %s → %s (dir %s)', (dest, workdir, path, isDir) => {
    expect(resolveDest(dest, workdir)).toEqual({ path, isDir });
  });
});

describe('the build context', () => {
  let dir: string;
  let ctx: BuildContext;
  const plan = (sources: string[], dest: string, extra: object = {}) =>
    planCopy(ctx, { where: 'Dockerfile:1: COPY', sources, dest, workdir: '/', ...extra });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'regctl-ctx-'));
    mkdirSync(join(dir, 'src/lib'), { recursive: true });
    writeFileSync(join(dir, 'src/main.js'), 'main');
    writeFileSync(join(dir, 'src/lib/util.js'), 'util');
    chmodSync(join(dir, 'src/lib/util.js'), 0o755);
    writeFileSync(join(dir, 'src/debug.log'), 'log');
    writeFileSync(join(dir, 'a.txt'), 'a');
    writeFileSync(join(dir, 'b.txt'), 'bb');
    writeFileSync(join(dir, '.dockerignore'), '**/*.log\n');
    symlinkSync('main.js', join(dir, 'src/link'));
    symlinkSync('../../etc/passwd', join(dir, 'evil'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    ctx = await BuildContext.open(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('copies a directory’s contents, sorted, with modes from the files and root owners', async () => {
    const e = await plan(['src'], '/app/');
    expect(e.map((x) => [x.path, x.type, x.mode.toString(8), x.uid])).toEqual([
      ['app', 'dir', expect.any(String), 0],
      ['app/lib', 'dir', expect.any(String), 0],
      ['app/lib/util.js', 'file', '755', 0],
      ['app/link', 'symlink', '777', 0],
      ['app/main.js', 'file', expect.stringMatching(/^6[0-4][0-4]$/), 0],
    ]);
    expect(e.find((x) => x.path === 'app/link')?.linkname).toBe('main.js');
  });

  it('applies --chown and --chmod, and a trailing slash puts files inside', async () => {
    const e = await plan(['a.txt', 'b.txt'], '/dst/', { chown: { uid: 1000, gid: 1001 }, chmod: 0o600 });
    expect(e.map((x) => [x.path, x.mode, x.uid, x.gid])).toEqual([
      ['dst', 0o755, 1000, 1001],
      ['dst/a.txt', 0o600, 1000, 1001],
      ['dst/b.txt', 0o600, 1000, 1001],
    ]);
  });

  it('expands globs; several sources need a directory destination', async () => {
    expect((await plan(['*.txt'], '/d/')).map((x) => x.path)).toEqual(['d', 'd/a.txt', 'd/b.txt']);
    await expect(plan(['*.txt'], '/file')).rejects.toThrow(/must be a directory/);
    expect((await plan(['a.txt'], '/renamed')).map((x) => x.path)).toEqual(['renamed']);
  });

  it('hides what .dockerignore names', async () => {
    await expect(plan(['src/debug.log'], '/x')).rejects.toThrow(/not found in the build context/);
    expect((await plan(['src'], '/all/')).map((x) => x.path)).not.toContain('all/debug.log');
  });

  it('refuses sources outside the context and symlinks that lead out of it', async () => {
    await expect(plan(['../etc/passwd'], '/x')).rejects.toThrow(/outside the build context/);
    await expect(plan(['evil'], '/x')).rejects.toThrow(/points outside the build context/);
  });

  it('refuses special files, naming them', async () => {
    await expect(plan(['fifo'], '/x')).rejects.toThrow(/\/fifo in the build context is a named pipe/);
    await expect(plan(['.'], '/all/')).rejects.toThrow(/\/fifo/);
  });

  it('follows a top-level symlink inside the context and keeps the source name', async () => {
    const e = await plan(['src/link'], '/d/');
    expect(e.map((x) => [x.path, x.type, x.size])).toEqual([
      ['d', 'dir', 0],
      ['d/link', 'file', 4],
    ]);
  });
});

describe('tar headers', () => {
  it('are ustar with a correct checksum, and PAX for long names', () => {
    const h = encodeHeader({ name: 'a/b.txt', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 5, mtime: 0 });
    expect(h.length).toBe(512);
    expect(h.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    expect(parseInt(h.subarray(148, 154).toString('latin1'), 8)).toBe(sum);
    const long = encodeHeader({
      name: `${'x'.repeat(200)}/${'y'.repeat(120)}`,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: 0,
    });
    expect(long[156]).toBe('x'.charCodeAt(0));
    expect(long.toString('utf8')).toContain(` path=${'x'.repeat(200)}/`);
  });
});
