// The bundle bin/regctl runs (dist/bundle/cli.cjs) and its V8 code cache, as `npm run build` leaves them.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** cacheState() of bin/load-bundle.cjs under root, in a fresh process (V8's default flags, as bin/regctl starts). */
async function cacheState(root: string): Promise<string> {
  const code = `process.stdout.write(require(${JSON.stringify(join(root, 'bin/load-bundle.cjs'))}).cacheState())`;
  return (await run(process.execPath, ['-e', code])).stdout;
}

let copy: string;
beforeAll(async () => {
  // A copy of the package's runnable parts, to tamper with.
  copy = await makeTempDir('bundle');
  await cp(join(ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
  await mkdir(join(copy, 'dist'));
  await cp(join(ROOT, 'dist/bundle'), join(copy, 'dist/bundle'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(copy, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
});
afterAll(() => removeTempDir(copy));

describe('the bundle and its code cache', () => {
  it('the cache carries the bundle’s build id, and V8 accepts it', async () => {
    const bundle = await readFile(join(ROOT, 'dist/bundle/cli.cjs'), 'utf8');
    const id = /^\/\/ regctl-build ([0-9a-f]+)\n/.exec(bundle)?.[1];
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const cache = await readFile(join(ROOT, 'dist/bundle/cli.cjs.cache'));
    expect(cache.subarray(0, 46).toString('latin1')).toBe(`regctl-build ${id}\n`);
    expect(await cacheState(ROOT)).toBe('used');
  });

  it('a cache made for another build is not used, and the CLI runs the same', async () => {
    const file = join(copy, 'dist/bundle/cli.cjs.cache');
    const cache = await readFile(file);
    await writeFile(file, Buffer.concat([Buffer.from(`regctl-build ${'0'.repeat(32)}\n`), cache.subarray(46)]));
    expect(await cacheState(copy)).toBe('other-build');
    const { stdout } = await run(process.execPath, [join(copy, 'bin/regctl'), 'ls', '--help']);
    expect(stdout).toMatch(/^Usage: regctl ls/);
  });

  it('a cache V8 cannot use (corrupt) is rejected, and the CLI runs the same', async () => {
    const file = join(copy, 'dist/bundle/cli.cjs.cache');
    const bundle = await readFile(join(copy, 'dist/bundle/cli.cjs'), 'utf8');
    const id = /^\/\/ regctl-build ([0-9a-f]+)\n/.exec(bundle)?.[1];
    await writeFile(file, Buffer.concat([Buffer.from(`regctl-build ${id}\n`), Buffer.alloc(4096, 7)]));
    expect(await cacheState(copy)).toBe('rejected');
    const { stdout } = await run(process.execPath, [join(copy, 'bin/regctl'), 'ls', '--help']);
    expect(stdout).toMatch(/^Usage: regctl ls/);
  });
});
