// The copy engine's blob decisions: it asks the destination (tryReuse) and streams only what is not reused, passing the
// source's repository and the run's blob-location cache as hints. In-memory source and destination, no I/O.
import { describe, expect, it } from 'vitest';
import { copyImage } from '../../src/copy/copy.js';
import type { CopyEvent } from '../../src/copy/events.js';
import { SharedBlobs } from '../../src/copy/shared.js';
import { DigestError } from '../../src/errors.js';
import type { Location } from '../../src/location/parse.js';
import { type Digest, digestOf } from '../../src/oci/digest.js';
import { type Descriptor, type FetchedManifest, encodeManifest, toFetched } from '../../src/oci/manifest.js';
import type {
  Bytes,
  ImageDestination,
  ImageSource,
  RegistryRepo,
  ReuseHints,
  Reused,
} from '../../src/transports/types.js';

const OCI_IMAGE = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar';
const HOST = 'registry.test';

function blob(text: string, mediaType = LAYER): { desc: Descriptor; bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(text);
  return { desc: { mediaType, digest: digestOf(bytes), size: bytes.length }, bytes };
}

function image(seed: string) {
  const configJson = JSON.stringify({ architecture: 'amd64', os: 'linux', seed });
  const config = blob(configJson, 'application/vnd.oci.image.config.v1+json');
  const layers = [blob(`layer one of ${seed}, the larger`), blob(`layer two ${seed}`)];
  const doc = { schemaVersion: 2, mediaType: OCI_IMAGE, config: config.desc, layers: layers.map((l) => l.desc) };
  const root = toFetched(encodeManifest(doc), OCI_IMAGE);
  return { root, config, layers, blobs: new Map([config, ...layers].map((b) => [b.desc.digest, b.bytes])) };
}

class MemSource implements ImageSource {
  readonly caps = { concurrentReads: true };
  readonly location: Location = registryAt('src');
  readonly reads: Digest[] = [];
  constructor(
    private readonly manifests: FetchedManifest[],
    private readonly blobs: Map<Digest, Uint8Array>,
    readonly registryRepo?: RegistryRepo,
  ) {}
  async resolve(): Promise<Descriptor | undefined> {
    return this.manifests[0].desc;
  }
  async getManifest(digest: Digest | undefined): Promise<FetchedManifest> {
    return this.manifests.find((m) => m.desc.digest === (digest ?? this.manifests[0].desc.digest))!;
  }
  async getBlob(desc: Descriptor, opts: { offset?: number }): Promise<Bytes> {
    this.reads.push(desc.digest);
    const bytes = this.blobs.get(desc.digest)!.subarray(opts.offset ?? 0);
    return (async function* () {
      yield bytes;
    })();
  }
  async close(): Promise<void> {}
}

class MemDest implements ImageDestination {
  readonly caps = { concurrentWrites: true, keepsIndex: true };
  readonly asked: Array<{ digest: Digest; hints: ReuseHints }> = [];
  readonly put = new Map<Digest, Uint8Array>();
  readonly manifests: Array<{ digest: Digest; tag?: string }> = [];
  committed = false;
  aborted = false;
  constructor(
    readonly location: Location,
    private readonly answer: (d: Descriptor) => Reused | undefined = () => undefined,
  ) {}
  async resolve(): Promise<Descriptor | undefined> {
    return undefined;
  }
  async tryReuse(desc: Descriptor, hints: ReuseHints): Promise<Reused | undefined> {
    this.asked.push({ digest: desc.digest, hints });
    return this.answer(desc);
  }
  async putBlob(desc: Descriptor, open: () => Promise<Bytes>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const c of await open()) parts.push(c);
    this.put.set(desc.digest, Buffer.concat(parts));
  }
  async putManifest(m: FetchedManifest, tag: string | undefined): Promise<void> {
    this.manifests.push({ digest: m.desc.digest, tag });
  }
  async commit(): Promise<void> {
    this.committed = true;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
  describe(digest: Digest): string {
    return `dst@${digest}`;
  }
}

function registryAt(repository: string): Location {
  return { kind: 'registry', ref: { registry: HOST, apiHost: HOST, repository, tag: 'v1' } };
}
const opts = (extra: Partial<Parameters<typeof copyImage>[2]> = {}) => ({
  jobs: 2,
  signal: new AbortController().signal,
  ...extra,
});

describe('copy engine blob placement', () => {
  it('asks the destination about every blob once and streams only those it does not reuse', async () => {
    const img = image('a');
    const src = new MemSource([img.root], img.blobs);
    const [one, two] = img.layers;
    const dst = new MemDest(registryAt('dst'), (d) =>
      d.digest === img.config.desc.digest ? 'exists' : d.digest === one.desc.digest ? 'mounted' : undefined,
    );
    const events: CopyEvent[] = [];
    const result = await copyImage(src, dst, opts({ onEvent: (e) => events.push(e) }));
    const all = [img.config.desc.digest, one.desc.digest, two.desc.digest];
    expect(dst.asked.map((a) => a.digest).sort()).toEqual(all.sort());
    expect(src.reads, 'only the blob not reused is read from the source').toEqual([two.desc.digest]);
    expect([...dst.put.keys()]).toEqual([two.desc.digest]);
    expect(Buffer.from(dst.put.get(two.desc.digest)!).equals(Buffer.from(two.bytes))).toBe(true);
    expect(result.blobs).toEqual({ sent: 1, existed: 1, mounted: 1 });
    expect(result.bytesSent).toBe(two.desc.size);
    const states = events.filter((e) => e.type === 'blob').map((e) => `${e.digest} ${e.state}`);
    expect(states).toContain(`${img.config.desc.digest} exists`);
    expect(states).toContain(`${one.desc.digest} mounted`);
    expect(states).toContain(`${two.desc.digest} done`);
    expect(dst.manifests).toEqual([{ digest: img.root.desc.digest, tag: undefined }]);
    expect(dst.committed).toBe(true);
  });

  it("passes the source's registry repository and the run's blob-location cache as hints", async () => {
    const img = image('b');
    const from = { host: HOST, repository: 'src' };
    const src = new MemSource([img.root], img.blobs, from);
    const dst = new MemDest(registryAt('dst'), () => 'exists');
    const shared = new SharedBlobs();
    await copyImage(src, dst, opts({ shared }));
    expect(dst.asked).toHaveLength(3);
    for (const a of dst.asked) {
      expect(a.hints.from).toEqual(from);
      expect(a.hints.shared).toBe(shared);
    }
  });

  it('a blob not reused streams verified: a corrupt source fails the copy, nothing is committed, the destination aborts', async () => {
    const img = image('c');
    const bad = new Map(img.blobs);
    const victim = img.layers[1].desc.digest;
    bad.set(victim, new TextEncoder().encode('X'.repeat(img.layers[1].desc.size)));
    const dst = new MemDest(registryAt('dst'));
    await expect(copyImage(new MemSource([img.root], bad), dst, opts())).rejects.toBeInstanceOf(DigestError);
    expect(dst.put.has(victim)).toBe(false);
    expect(dst.manifests).toEqual([]);
    expect(dst.committed).toBe(false);
    expect(dst.aborted).toBe(true);
  });

  it('waits, outside the limiter, for an upload into the same registry another copy of the run has under way', async () => {
    const img = image('d');
    const shared = new SharedBlobs();
    const held = img.layers[0].desc.digest;
    const settle = shared.claim({ host: HOST, repository: 'other' }, held);
    const dst = new MemDest(registryAt('dst'), () => 'exists');
    const copy = copyImage(new MemSource([img.root], img.blobs), dst, opts({ shared }));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(dst.asked.map((a) => a.digest)).not.toContain(held);
    expect(dst.asked, 'the other blobs went on meanwhile').toHaveLength(2);
    settle(true);
    await copy;
    expect(dst.asked.map((a) => a.digest)).toContain(held);
  });

  it('an upload under way into another registry is not waited for', async () => {
    const img = image('e');
    const shared = new SharedBlobs();
    shared.claim({ host: 'elsewhere.test', repository: 'other' }, img.layers[0].desc.digest);
    const dst = new MemDest(registryAt('dst'), () => 'exists');
    const result = await copyImage(new MemSource([img.root], img.blobs), dst, opts({ shared }));
    expect(result.blobs.existed).toBe(3);
  });

  it('copies of one run that share a child manifest push it into one repository once', async () => {
    const img = image('f');
    const child = { ...img.root.desc, platform: { os: 'linux', architecture: 'amd64' } };
    const index = toFetched(encodeManifest({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child] }), OCI_INDEX);
    const shared = new SharedBlobs();
    const a = new MemDest(registryAt('same'), () => 'exists');
    const b = new MemDest(registryAt('same'), () => 'exists');
    const src = () => new MemSource([index, img.root], img.blobs);
    await Promise.all([copyImage(src(), a, opts({ shared })), copyImage(src(), b, opts({ shared }))]);
    const pushes = [...a.manifests, ...b.manifests];
    expect(pushes.filter((m) => m.digest === img.root.desc.digest)).toHaveLength(1);
    expect(pushes.filter((m) => m.digest === index.desc.digest)).toHaveLength(2);
  });

  it("records, once the image's manifests are written, that the destination's repository references its blobs", async () => {
    const img = image('g');
    const shared = new SharedBlobs();
    const here = { host: HOST, repository: 'refs' };
    expect(shared.isReferenced(here, img.layers[0].desc.digest)).toBe(false);
    const dst = new MemDest(registryAt('refs'), () => 'exists');
    await copyImage(new MemSource([img.root], img.blobs), dst, opts({ shared }));
    for (const d of [img.config.desc, ...img.layers.map((l) => l.desc)]) {
      expect(shared.isReferenced(here, d.digest)).toBe(true);
    }
  });

  it('a local destination is not waited for, nor recorded in the cache', async () => {
    const img = image('h');
    const shared = new SharedBlobs();
    shared.claim({ host: HOST, repository: 'other' }, img.layers[0].desc.digest);
    const dst = new MemDest({ kind: 'oci', path: '/nowhere' }, () => 'exists');
    const result = await copyImage(new MemSource([img.root], img.blobs), dst, opts({ shared }));
    expect(result.blobs.existed).toBe(3);
  });
});
