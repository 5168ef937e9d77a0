// `regctl inspect` of a docker-archive holding several images (`docker save a b`) lists them; one image inspects
// as ever.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { runCli } from '../support/run-cli.js';
import { makeTar } from '../transports/local-helpers.js';

let work: string;
const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const CREATED = '2000-01-01T00:00:00Z';
const layer = Buffer.alloc(1024); // an empty tar: two zero blocks
const config = (label: string): string =>
  JSON.stringify({
    architecture: 'arm64',
    os: 'linux',
    created: CREATED,
    config: { Labels: { l: label } },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
  });
const [cfgA, cfgB] = [config('a'), config('b')];

/** A classic `docker save` of two images (shared layer), the second named with an escape sequence. */
async function twoImages(path: string): Promise<void> {
  const manifest = [
    { Config: `${sha(cfgA)}.json`, RepoTags: ['many/a:1', 'many/a:latest'], Layers: ['l1/layer.tar'] },
    { Config: `${sha(cfgB)}.json`, RepoTags: ['evil/\u001b[31mred:2'], Layers: ['l1/layer.tar'] },
  ];
  await makeTar(path, [
    { name: `${sha(cfgA)}.json`, body: cfgA },
    { name: `${sha(cfgB)}.json`, body: cfgB },
    { name: 'l1/layer.tar', body: layer },
    { name: 'manifest.json', body: JSON.stringify(manifest) },
  ]);
}

beforeAll(async () => {
  work = await makeTempDir('inspect-archive');
});
afterAll(async () => removeTempDir(work));

it('inspect of a docker-archive with several images lists their names and image IDs, control chars escaped', async () => {
  const tar = join(work, 'two.tar');
  await twoImages(tar);
  const r = await runCli(['inspect', `docker-archive:${tar}`]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain('Images:      2');
  expect(r.stdout).toMatch(new RegExp(`many/a:1, many/a:latest\\s+sha256:${sha(cfgA)}\\s+linux/arm64\\s+1 layer`));
  expect(r.stdout).toMatch(new RegExp(`evil/\\\\x1b\\[31mred:2\\s+sha256:${sha(cfgB)}`));
  expect(r.stdout).not.toContain('\u001b');
  const json = JSON.parse((await runCli(['inspect', '--json', tar])).stdout) as { images: unknown[] };
  const common = { platform: 'linux/arm64', created: CREATED, layers: 1 };
  expect(json.images).toEqual([
    { names: ['many/a:1', 'many/a:latest'], id: `sha256:${sha(cfgA)}`, ...common },
    { names: ['evil/\u001b[31mred:2'], id: `sha256:${sha(cfgB)}`, ...common },
  ]);
  // Named, one image is inspected as usual; --raw still needs a name.
  const one = await runCli(['inspect', `docker-archive:${tar}:many/a:latest`]);
  expect(one.stdout).toContain(`Config:      sha256:${sha(cfgA)}`);
  const raw = await runCli(['inspect', '--raw', tar]);
  expect(raw.code).toBe(2);
  expect(raw.stderr).toMatch(/holds 2 images; name one/);
});
