// The package as npm ships it: `npm pack`, unpacked as node_modules/regctl-js of a consumer project (offline: its
// dependencies are linked from this repository's node_modules). A consumer program that imports 'regctl-js' by name
// type-checks against the shipped .d.ts, a deliberate type error fails, and importing the package loads neither the
// AWS SDK, keytar nor zlib.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
let work: string;
let consumer: string;
let shipped: string[];

async function tsc(): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [TSC, '-p', consumer], { cwd: consumer });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

const GOOD = `
import {
  RegctlError, build, copy, digest, inspect, listTags, pull, push, sync, tag,
  type CopyResult, type ErrorCode, type ProgressEvent,
} from 'regctl-js';

export async function mirror(signal: AbortSignal): Promise<string> {
  const seen: number[] = [];
  const r: CopyResult = await copy('docker.io/library/alpine:3.20', 'localhost:5000/alpine:3.20', {
    credentials: { destination: { username: 'ci', password: 'secret' } },
    jobs: 4,
    platforms: ['linux/amd64', 'linux/arm64'],
    signal,
    onProgress: (e: ProgressEvent) => {
      if (e.type === 'blob-bytes') seen.push(e.bytes);
      if (e.type === 'blob-done') seen.push(e.size);
    },
  });
  const platforms: string[] = r.platforms;
  const sent: number = r.bytesSent;
  const d: string = (await digest('alpine:3.20', { platform: 'linux/arm64' })).digest;
  const tags: string[] = await listTags('localhost:5000/alpine', { credentials: { username: 'u', password: 'p' } });
  await tag('localhost:5000/alpine:3.20', ['3', 'latest']);
  await pull('alpine:3.20', './alpine.tar', { format: 'docker-archive' });
  await push('./alpine.tar', 'localhost:5000/alpine:3.20');
  const info = await inspect('alpine:3.20');
  const ok: boolean = (await sync('mirror.yaml', { dryRun: true })).ok;
  const built: string = (await build('.', { tags: ['oci:./out:1'] })).digest;
  try {
    await copy('a', 'b');
  } catch (err) {
    if (err instanceof RegctlError) {
      const code: ErrorCode = err.code;
      const exit: 1 | 2 | 130 | 143 = err.exitCode;
      return \`\${code} \${exit}\`;
    }
  }
  return [r.reference, r.digest, r.mediaType, platforms, sent, d, tags, info.digest, ok, built].join(' ');
}
`;

beforeAll(async () => {
  work = await makeTempDir('api-package');
  // dist/ is what `npm run build` made (tests run after a build); no scripts run here.
  const pack = ['pack', '--ignore-scripts', '--json', '--pack-destination', work];
  const { stdout } = await run('npm', pack, { cwd: ROOT });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  shipped = packed.files.map((f) => f.path);
  consumer = join(work, 'consumer');
  const pkg = join(consumer, 'node_modules', 'regctl-js');
  await mkdir(pkg, { recursive: true });
  await run('tar', ['-xzf', join(work, packed.filename), '-C', pkg, '--strip-components=1']);
  // Offline, so no `npm install`: the package's dependencies and @types/node come from this repository.
  const deps = Object.keys((await import(join(ROOT, 'package.json'), { with: { type: 'json' } })).default.dependencies);
  await mkdir(join(consumer, 'node_modules', '@types'), { recursive: true });
  for (const d of [...deps, '@types/node']) {
    const at = join(consumer, 'node_modules', d);
    if (existsSync(at)) continue;
    await mkdir(join(at, '..'), { recursive: true });
    await symlink(join(ROOT, 'node_modules', d), at);
  }
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  await writeFile(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        types: ['node'],
        skipLibCheck: false,
        lib: ['ES2023'],
      },
      files: ['main.ts'],
    }),
  );
});

afterAll(async () => {
  await removeTempDir(work);
});

describe('the published package', () => {
  it('ships the entry, its declarations and the CLI', () => {
    const wanted = ['dist/index.js', 'dist/index.d.ts', 'dist/api/copy.d.ts', 'bin/regctl', 'package.json'];
    expect(shipped).toEqual(expect.arrayContaining(wanted));
  });

  it("a consumer importing 'regctl-js' by name type-checks against the shipped .d.ts (tsc exit 0)", async () => {
    await writeFile(join(consumer, 'main.ts'), GOOD);
    const r = await tsc();
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('a deliberate type error fails tsc, naming the line', async () => {
    const wrong = "export const wrong: number = (await (await import('regctl-js')).digest('x')).digest;";
    await writeFile(join(consumer, 'main.ts'), `${GOOD}\n${wrong}\n`);
    const r = await tsc();
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/main\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });

  it('importing the package loads neither the AWS SDK, keytar nor zlib', async () => {
    // An ES module resolve hook refuses them; zlib (a built-in undici could require) shows in moduleLoadList.
    await writeFile(
      join(work, 'hooks.mjs'),
      `export async function resolve(spec, context, next) {
  if (/^(@aws-sdk\\/|keytar$|(node:)?zlib$)/.test(spec)) throw new Error('loaded at import: ' + spec);
  return next(spec, context);
}\n`,
    );
    const register = "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n";
    await writeFile(join(work, 'register.mjs'), register);
    const code = [
      "const api = await import('regctl-js');",
      'const heavy = process.moduleLoadList.filter((m) => /zlib|keytar/.test(m));',
      'console.log(JSON.stringify({ names: Object.keys(api).sort(), heavy }));',
    ].join('\n');
    const args = ['--import', join(work, 'register.mjs'), '--input-type=module', '-e', code];
    const { stdout } = await run(process.execPath, args, { cwd: consumer });
    const r = JSON.parse(stdout) as { names: string[]; heavy: string[] };
    expect(r.heavy).toEqual([]);
    const names = ['RegctlError', 'build', 'copy', 'digest', 'inspect', 'listTags', 'pull', 'push', 'sync', 'tag'];
    expect(r.names).toEqual(expect.arrayContaining(names));
  });
});
