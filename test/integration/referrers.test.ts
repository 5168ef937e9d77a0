// copy --referrers between a registry with the referrers API (a front over distribution) and one without (2.8).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import {
  type ImageFixture,
  type IndexFixture,
  makeImageLayout,
  makeIndexLayout,
  seedImage,
} from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { type ReferrersFront, startReferrersFront } from '../support/referrers-front.js';
import {
  type Desc,
  IN_TOTO,
  NOTARY_SIG,
  OCI_INDEX,
  OCI_MANIFEST,
  SPDX,
  addToFallback,
  attachArtifact,
  cosignSign,
  fallbackIndex,
  fallbackTag,
  pushManifest,
  getManifest,
  referrersIndex,
} from '../support/referrer-fixtures.js';
import { runCli } from '../support/run-cli.js';

let plain: RegistryHandle;
let apiReg: RegistryHandle;
let front: ReferrersFront;
let proxy: FaultProxy;
let work: string;
let image: ImageFixture;
let index: IndexFixture;
/** The registry without the API, as regctl sees it: through the counting proxy. */
let P: string;
/** The registry with the API. */
let A: string;
const subject = (digest: string): Desc => ({ mediaType: OCI_MANIFEST, digest, size: 0 });
let sbom: Desc;
let att: Desc;
let sbomSig: Desc;
let sig: Desc;
let childSbom: Desc;

beforeAll(async () => {
  work = await makeTempDir('referrers-test');
  [plain, apiReg] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startFaultProxy(plain.url);
  front = await startReferrersFront(apiReg.url);
  P = proxy.host;
  A = front.host;
  [image, index] = await Promise.all([
    makeImageLayout(join(work, 'img'), { layers: [50_000, 20_000], seed: 'ref-img', tag: 'v1' }),
    makeIndexLayout(join(work, 'idx'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [30_000],
      seed: 'ref-idx',
      tag: 'v1',
    }),
  ]);
  await Promise.all([
    seedImage(`oci:${image.dir}:v1`, `${plain.host}/src/app:v1`),
    seedImage(`oci:${index.dir}:v1`, `${plain.host}/src/multi:v1`, { all: true }),
  ]);
  const base = plain.url;
  const img = { ...subject(image.manifestDigest), size: image.manifestSize };
  sbom = await attach(base, 'src/app', img, SPDX, '{"spdxVersion":"SPDX-2.3"}');
  att = await attach(base, 'src/app', img, IN_TOTO, '{"_type":"https://in-toto.io/Statement/v1"}');
  // A signature of the SBOM: a referrer of a referrer.
  sbomSig = await attach(base, 'src/app', sbom, NOTARY_SIG, 'sig');
  sig = await cosignSign(base, 'src/app', image.manifestDigest, `${plain.host}/src/app`);
  const child = index.images[0];
  childSbom = await attach(base, 'src/multi', subject(child.manifestDigest), SPDX, '{"child":1}');
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await front?.stop();
  await Promise.all([plain?.stop(), apiReg?.stop()]);
  await removeTempDir(work);
});

const digests = (l: Desc[] | undefined) => (l ?? []).map((d) => d.digest).sort();
/** The digests the API registry lists as referrers of `d` in `repo`. */
const listed = async (repo: string, d: string) => digests(await referrersIndex(`http://${A}`, repo, d));
/** The digests the plain registry's fallback index of `d` in `repo` holds. */
const indexed = async (repo: string, d: string) => digests(await fallbackIndex(plain.url, repo, d));
const onApi = (repo: string, ref: string) => getManifest(`http://${A}`, repo, ref);
const onPlain = (repo: string, ref: string) => getManifest(plain.url, repo, ref);
const sigTag = (d: string) => `${fallbackTag(d)}.sig`;
const attach = (base: string, repo: string, on: Desc, artifactType: string, content: string, fallback = true) =>
  attachArtifact(base, repo, on, { artifactType, content, fallback });

describe('copy --referrers', () => {
  it('copies every referrer from a registry without the API into one with it, by digest, recursively', async () => {
    const r = await runCli(['copy', '--referrers', `${P}/src/app:v1`, `${A}/dst/app:v1`]);
    expect(r.stderr).not.toMatch(/regctl:|warning/);
    expect(r.code).toBe(0);
    expect(await listed('dst/app', image.manifestDigest)).toEqual(digests([sbom, att]));
    expect(await listed('dst/app', sbom.digest)).toEqual([sbomSig.digest]);
    for (const d of [sbom, att, sbomSig]) expect((await onApi('dst/app', d.digest)).digest).toBe(d.digest);
    // cosign's tag travels as a tag, same bytes.
    expect((await onApi('dst/app', sigTag(image.manifestDigest))).digest).toBe(sig.digest);
    // Where the API took the subject (OCI-Subject), no fallback tag is written.
    expect((await onApi('dst/app', fallbackTag(image.manifestDigest))).status).toBe(404);
    expect(r.stderr).toMatch(/referrers: 4 found, 4 copied/);
  });

  it("a re-run sends nothing and GETs no manifest but the source's fallback indexes (the rest by HEAD)", async () => {
    front.reset();
    proxy.reset();
    const r = await runCli(['copy', '--referrers', `${P}/src/app:v1`, `${A}/dst/app:v1`]);
    expect(r.code).toBe(0);
    expect(front.count(['manifest-put', 'upload', 'mount'])).toBe(0);
    const gets = proxy.stats.filter((q) => q.kind === 'manifest-get').map((q) => q.ref);
    expect(gets.sort()).toEqual([fallbackTag(image.manifestDigest), fallbackTag(sbom.digest)].sort());
    expect(r.stderr).toMatch(/referrers: 4 found, 0 copied \(0 B\), 4 already there/);
  });

  it('copies back from the API registry into one without it through the fallback tag schema', async () => {
    const r = await runCli(['copy', '--referrers', `${A}/dst/app:v1`, `${P}/back/app:v1`]);
    expect(r.stderr).not.toMatch(/regctl:|warning/);
    expect(r.code).toBe(0);
    expect(await indexed('back/app', image.manifestDigest)).toEqual(digests([sbom, att]));
    expect(await indexed('back/app', sbom.digest)).toEqual([sbomSig.digest]);
    const index = await fallbackIndex(plain.url, 'back/app', image.manifestDigest);
    const entry = index!.find((e) => e.digest === sbom.digest)!;
    expect(entry.artifactType).toBe(SPDX);
    expect(entry.annotations?.['org.opencontainers.image.created']).toBe('2026-01-02T03:04:05Z');
    expect((await onPlain('back/app', sigTag(image.manifestDigest))).digest).toBe(sig.digest);
  });

  it("keeps another tool's entry already in the destination's fallback index", async () => {
    const img = subject(image.manifestDigest);
    const foreign = await attach(plain.url, 'keep/app', img, 'application/vnd.example.other', 'x');
    const r = await runCli(['copy', '--referrers', `${A}/dst/app:v1`, `${P}/keep/app:v1`]);
    expect(r.code).toBe(0);
    expect(await indexed('keep/app', image.manifestDigest)).toEqual(digests([sbom, att, foreign]));
  });

  it('--referrers-type copies only referrers of that artifact type (and their own referrers)', async () => {
    const r = await runCli(['copy', '--referrers', '--referrers-type', SPDX, `${P}/src/app:v1`, `${A}/only/app:v1`]);
    expect(r.code).toBe(0);
    expect(await listed('only/app', image.manifestDigest)).toEqual([sbom.digest]);
    expect(await listed('only/app', sbom.digest)).toEqual([sbomSig.digest]);
    expect((await onApi('only/app', att.digest)).status).toBe(404);
  });

  it("copies the referrers of an index's children", async () => {
    const r = await runCli(['copy', '--referrers', `${P}/src/multi:v1`, `${A}/dst/multi:v1`]);
    expect(r.code).toBe(0);
    expect(await listed('dst/multi', index.images[0].manifestDigest)).toEqual([childSbom.digest]);
  });
});

describe('hostile referrers', () => {
  it('ignores, with a warning, a referrer whose subject is another image, and a loop of subjects', async () => {
    const base = plain.url;
    await seedImage(`oci:${image.dir}:v1`, `${plain.host}/bad/app:v1`);
    const other = await attach(base, 'bad/app', subject(index.indexDigest), SPDX, 'o', false);
    await addToFallback(base, 'bad/app', image.manifestDigest, other);
    const good = await attach(base, 'bad/app', subject(image.manifestDigest), SPDX, 'g');
    // The good referrer's fallback index lists the image itself and the referrer: a loop.
    const theImage = { mediaType: OCI_MANIFEST, digest: image.manifestDigest, size: 1 };
    await addToFallback(base, 'bad/app', good.digest, theImage);
    await addToFallback(base, 'bad/app', good.digest, good);
    const r = await runCli(['copy', '--referrers', `${P}/bad/app:v1`, `${A}/bad/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ignored: its subject is sha256:[0-9a-f]{64}, not /);
    expect(r.stderr).toMatch(/a loop of subjects, not followed/);
    expect(await listed('bad/app', image.manifestDigest)).toEqual([good.digest]);
  });

  it('leaves a destination fallback tag that is not an index as it is (warning), copies the referrers', async () => {
    await seedImage(`oci:${image.dir}:v1`, `${plain.host}/junk/app:v1`);
    // Another tool's image (not an index) under the image's fallback tag.
    const junk = await onPlain('junk/app', 'v1');
    await pushManifest(plain.url, 'junk/app', fallbackTag(image.manifestDigest), junk.bytes);
    const r = await runCli(['copy', '--referrers', `${A}/dst/app:v1`, `${P}/junk/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/sha256-[0-9a-f]{64} is not an image index, so not a referrers list/);
    expect((await onPlain('junk/app', fallbackTag(image.manifestDigest))).digest).toBe(junk.digest);
    expect((await onPlain('junk/app', sbom.digest)).status).toBe(200);
  });

  it('follows nested referrers 8 levels deep and no further, with a warning', async () => {
    await seedImage(`oci:${image.dir}:v1`, `${plain.host}/deep/app:v1`);
    let at: Desc = { ...subject(image.manifestDigest), size: image.manifestSize };
    for (let i = 0; i < 10; i++) at = await attach(plain.url, 'deep/app', at, SPDX, `level ${i}`);
    const r = await runCli(['copy', '--referrers', `${P}/deep/app:v1`, `${A}/deep/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: referrers nested deeper than 8 levels in .* were not followed/);
    expect(r.stderr).toMatch(/referrers: 8 found, 8 copied/);
  });

  it('refuses a referrers answer over 4 MiB with a warning, and copies the image', async () => {
    const big = await startFaultProxy(front.url);
    try {
      big.rewrite(
        (q) => q.path.includes('/referrers/'),
        (res) => ({
          ...res,
          headers: { ...res.headers, 'content-type': OCI_INDEX },
          body: Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: OCI_INDEX,
              manifests: [],
              pad: 'x'.repeat(5 * 1024 * 1024),
            }),
          ),
        }),
        10,
      );
      const r = await runCli(['copy', '--referrers', `${big.host}/dst/app:v1`, `${P}/big/app:v1`]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/warning: referrers of .* skipped: .*over the 4 MiB limit/);
      expect((await onPlain('big/app', 'v1')).digest).toBe(image.manifestDigest);
    } finally {
      await big.stop();
    }
  });
});

describe('regctl referrers and inspect', () => {
  it('referrers lists every referrer, nested under its subject: type, digest, size, creation time', async () => {
    const r = await runCli(['referrers', `${P}/src/app:v1`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TYPE\s+DIGEST\s+SIZE\s+CREATED\s+FOUND BY$/);
    const type = SPDX.replace(/[+.]/g, '\\$&');
    const row = new RegExp(`^${type}\\s+${sbom.digest}\\s+\\S+ \\S+\\s+2026-01-02T03:04:05Z\\s+tag$`);
    expect(lines.find((l) => l.includes(sbom.digest))).toMatch(row);
    expect(lines.find((l) => l.includes(sbomSig.digest))).toMatch(/^ {2}application\/vnd\.cncf\.notary\.signature\s/);
    expect(lines.find((l) => l.includes(sig.digest))).toMatch(/tag sha256-[0-9a-f]{64}\.sig$/);
    expect(lines).toHaveLength(5);
  });

  it('referrers --json, through the API, names subject, type, digest, size and annotations', async () => {
    const r = await runCli(['referrers', '--json', `${A}/dst/app:v1`]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { subject: string; referrers: Array<Record<string, unknown>> };
    expect(doc.subject).toBe(image.manifestDigest);
    const s = doc.referrers.find((x) => x.digest === sbom.digest)!;
    expect(s).toMatchObject({ subject: image.manifestDigest, depth: 1, artifactType: SPDX, size: sbom.size });
    expect(s.via).toBe('api');
    expect(s.annotations).toEqual({ 'org.opencontainers.image.created': '2026-01-02T03:04:05Z' });
    expect(doc.referrers.find((x) => x.digest === sbomSig.digest)).toMatchObject({ subject: sbom.digest, depth: 2 });
  });

  it('inspect counts referrers by type, on both kinds of registry', async () => {
    for (const ref of [`${P}/src/app:v1`, `${A}/dst/app:v1`]) {
      const r = await runCli(['inspect', ref]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Referrers: +3 \\(.*${SPDX.replace(/[+.]/g, '\\$&')}: 1`, 'm'));
      expect(r.stdout).toMatch(/application\/vnd\.dev\.cosign\.simplesigning\.v1\+json: 1/);
      const j = JSON.parse((await runCli(['inspect', '--json', ref])).stdout) as { referrers: unknown };
      const byType = { [SPDX]: 1, [IN_TOTO]: 1, 'application/vnd.dev.cosign.simplesigning.v1+json': 1 };
      expect(j.referrers).toEqual({ total: 3, byType });
    }
  });
});

describe('sync with referrers: true', () => {
  it('copies the referrers of entries that say so (defaults, or per entry); a re-run sends nothing', async () => {
    const spec = join(work, 'sync.yaml');
    await writeFile(
      spec,
      [
        'defaults:',
        '  referrers: true',
        'sync:',
        `  - source: ${P}/src/app:v1`,
        `    target: ${A}/sync/app`,
        `  - source: ${P}/src/multi:v1`,
        `    target: ${A}/sync/multi`,
        '    referrers: false',
        '',
      ].join('\n'),
    );
    const r = await runCli(['sync', '--json', spec]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { images: Array<{ referrers?: { found: number; copied: number } }> };
    expect(report.images[0].referrers).toEqual({ found: 4, copied: 4, existed: 0 });
    expect(report.images[1].referrers).toBeUndefined();
    expect(await listed('sync/app', image.manifestDigest)).toEqual(digests([sbom, att]));
    expect(await listed('sync/app', sbom.digest)).toEqual([sbomSig.digest]);
    expect(await referrersIndex(`http://${A}`, 'sync/multi', index.images[0].manifestDigest)).toEqual([]);
    front.reset();
    const again = await runCli(['sync', '--json', spec]);
    expect(again.code).toBe(0);
    expect(front.count(['manifest-put', 'upload', 'mount'])).toBe(0);
    const second = JSON.parse(again.stdout) as typeof report;
    expect(second.images[0].referrers).toEqual({ found: 4, copied: 0, existed: 4 });
  });

  it('refuses referrers: true on an entry that is not registry to registry (exit 2, SPEC:LINE)', async () => {
    const spec = join(work, 'bad-sync.yaml');
    const text = `sync:\n  - source: ${P}/src/app:v1\n    target: oci:${join(work, 'out')}\n    referrers: true\n`;
    await writeFile(spec, text);
    const r = await runCli(['sync', spec]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-sync\.yaml:4.*referrers are copied between registries only/);
  });
});

describe('prune and referrers', () => {
  it('deletes the referrers and fallback indexes of an image it deletes, keeps those of a kept image', async () => {
    const v2 = await makeImageLayout(join(work, 'img2'), { layers: [10_000], seed: 'ref-img-2', tag: 'v1' });
    await seedImage(`oci:${image.dir}:v1`, `${plain.host}/prune/app:v1`);
    await seedImage(`oci:${v2.dir}:v1`, `${plain.host}/prune/app:v2`);
    const base = plain.url;
    const one = subject(image.manifestDigest);
    const s1 = await attach(base, 'prune/app', one, SPDX, 'p1');
    const s1sig = await attach(base, 'prune/app', s1, NOTARY_SIG, 'p1s');
    const c1 = await cosignSign(base, 'prune/app', image.manifestDigest, 'x');
    const s2 = await attach(base, 'prune/app', subject(v2.manifestDigest), SPDX, 'p2');
    const c2 = await cosignSign(base, 'prune/app', v2.manifestDigest, 'y');

    const dry = await runCli(['prune', '--dry-run', '--match', '^v1$', '--keep', '0', `${P}/prune/app`]);
    expect(dry.code).toBe(0);
    for (const d of [image.manifestDigest, s1.digest, s1sig.digest, c1.digest]) expect(dry.stdout).toContain(d);
    const indexRow = new RegExp(`would delete\\s+${fallbackTag(image.manifestDigest)}\\s+\\S+\\s+referrers index of`);
    expect(dry.stdout).toMatch(indexRow);

    const r = await runCli(['prune', '--yes', '--match', '^v1$', '--keep', '0', `${P}/prune/app`]);
    expect(r.code).toBe(0);
    for (const d of [image.manifestDigest, s1.digest, s1sig.digest, c1.digest]) {
      expect((await onPlain('prune/app', d)).status).toBe(404);
    }
    for (const t of [fallbackTag(image.manifestDigest), fallbackTag(s1.digest), sigTag(image.manifestDigest)]) {
      expect((await onPlain('prune/app', t)).status).toBe(404);
    }
    for (const d of [v2.manifestDigest, s2.digest, c2.digest]) expect((await onPlain('prune/app', d)).status).toBe(200);
    expect(digests(await fallbackIndex(base, 'prune/app', v2.manifestDigest))).toEqual([s2.digest]);
  });

  it('never counts fallback or cosign tags as images: --keep 1 keeps the one image and all it carries', async () => {
    const r = await runCli(['prune', '--yes', '--keep', '1', '--json', `${P}/prune/app`]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { images: number; expire: unknown[]; attached: unknown[] };
    expect(doc).toMatchObject({ images: 1, expire: [], attached: [] });
    expect((await onPlain('prune/app', 'v2')).status).toBe(200);
  });

  it('on a registry with the API, the referrers of a deleted image go with it', async () => {
    await runCli(['copy', '--referrers', `${P}/src/app:v1`, `${A}/prune/api:v1`]);
    expect(await listed('prune/api', image.manifestDigest)).toEqual(digests([sbom, att]));
    const r = await runCli(['prune', '--yes', '--match', '^v1$', '--keep', '0', `${A}/prune/api`]);
    expect(r.code).toBe(0);
    for (const d of [sbom, att, sbomSig]) expect((await onApi('prune/api', d.digest)).status).toBe(404);
    expect((await onApi('prune/api', sigTag(image.manifestDigest))).status).toBe(404);
    expect(await referrersIndex(`http://${A}`, 'prune/api', image.manifestDigest)).toEqual([]);
  });
});

describe('what referrers cost', () => {
  /** Requests of a copy into a fresh repository, both sides counted: without and with --referrers, and a re-run. */
  async function measure(src: string, dstRepo: string) {
    const both = () => front.count() + proxy.count();
    const reset = () => (front.reset(), proxy.reset());
    reset();
    const b = await runCli(['copy', src, `${dstRepo}-base/app:v1`]);
    expect(b.code, b.stderr).toBe(0);
    const base = both();
    reset();
    const r = await runCli(['copy', '--referrers', src, `${dstRepo}-ref/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/referrers: 10 found, 10 copied/);
    const withReferrers = both();
    reset();
    const again = await runCli(['copy', '--referrers', src, `${dstRepo}-ref/app:v1`]);
    expect(again.code, again.stderr).toBe(0);
    return { base, withReferrers, rerun: both() };
  }

  it('10 referrers: each costs what a small image costs, discovery a request per manifest', async () => {
    await seedImage(`oci:${image.dir}:v1`, `${A}/ten/app:v1`);
    await seedImage(`oci:${image.dir}:v1`, `${P}/ten/app:v1`);
    const img = { ...subject(image.manifestDigest), size: image.manifestSize };
    for (let i = 0; i < 10; i++) {
      await attach(`http://${A}`, 'ten/app', img, SPDX, `sbom ${i}`, false);
      await attach(plain.url, 'ten/app', img, SPDX, `sbom ${i}`);
    }
    const fromApi = await measure(`${A}/ten/app:v1`, `${P}/ten-from-api`);
    const fromTags = await measure(`${P}/ten/app:v1`, `${A}/ten-from-tags`);
    if (process.env.REGCTL_MEASURE) console.log(JSON.stringify({ fromApi, fromTags }));
    // Per referrer: its manifest GET and the destination's HEAD, PUT and blob work, as for any image of 2 blobs.
    for (const m of [fromApi, fromTags]) {
      expect(m.withReferrers - m.base).toBeLessThanOrEqual(10 * 12 + 16);
      // A re-run: the image's HEADs, the listings (one per manifest with the API), no referrer fetched or sent.
      expect(m.rerun).toBeLessThanOrEqual(m.base + 16);
    }
  });
});
