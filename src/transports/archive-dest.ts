// Archive destinations: an OCI layout staged in a directory beside the output, packed to OUT.tmp-XXXX and renamed on commit.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RegctlError, UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { TempTracker, syncDir } from '../util/fs.js';
import { OciLayoutDestination, type LayoutWriterOptions } from './oci-layout.js';
import { type PackEntry, packTar } from './tar-write.js';
import type { Bytes, DestinationCaps, ImageDestination } from './types.js';

/** Refuses an output path that cannot become an archive file. */
export async function checkOutput(out: string, what: string): Promise<void> {
  const st = await stat(out).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`${what}:${out}: is a directory; an archive is written to a file`);
}

/** A fresh staging directory beside `out` (same filesystem, so nothing crosses devices at commit). */
async function makeStaging(out: string): Promise<string> {
  await mkdir(dirname(out), { recursive: true });
  return mkdtemp(join(dirname(out), `.${basename(out)}.staging-`));
}

/** The layout's own entries, sorted: blobs/, blobs/ALG/, blobs/ALG/HEX…, then index.json and oci-layout. */
export async function layoutEntries(staging: string): Promise<PackEntry[]> {
  const entries: PackEntry[] = [{ name: 'blobs', type: 'dir' }];
  const algs = (await readdir(join(staging, 'blobs'), { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.'));
  for (const alg of algs.map((d) => d.name).sort()) {
    entries.push({ name: `blobs/${alg}`, type: 'dir' });
    const files = (await readdir(join(staging, 'blobs', alg))).filter((n) => !n.startsWith('.')).sort();
    for (const f of files) entries.push({ name: `blobs/${alg}/${f}`, type: 'file', source: join(staging, 'blobs', alg, f) });
  }
  entries.push({ name: 'index.json', type: 'file', source: join(staging, 'index.json') });
  entries.push({ name: 'oci-layout', type: 'file', source: join(staging, 'oci-layout') });
  return entries;
}

/** Stages the image as an OCI layout (created at the first write, so a copy that fails early leaves nothing), packs it on commit. */
export abstract class StagedArchiveDestination implements ImageDestination {
  abstract readonly caps: DestinationCaps;
  protected readonly temps = new TempTracker();
  protected layout?: OciLayoutDestination;
  private staged?: Promise<OciLayoutDestination>;

  constructor(
    readonly location: Location,
    readonly out: string,
    private readonly tag: string | undefined,
    private readonly layoutOpts: LayoutWriterOptions = {},
  ) {}

  private stage(): Promise<OciLayoutDestination> {
    this.staged ??= makeStaging(this.out).then((dir) => {
      this.temps.add(dir);
      this.layout = new OciLayoutDestination(this.location, dir, this.tag, this.layoutOpts);
      return this.layout;
    });
    return this.staged;
  }

  /** An archive is always written whole: nothing to compare against. */
  async resolve(): Promise<Descriptor | undefined> {
    return undefined;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return this.layout ? this.layout.hasBlob(desc) : false;
  }

  async putBlob(desc: Descriptor, open: () => Promise<Bytes>, signal: AbortSignal): Promise<void> {
    return (await this.stage()).putBlob(desc, open, signal);
  }

  async putManifest(m: FetchedManifest, tag: string | undefined, signal: AbortSignal): Promise<void> {
    return (await this.stage()).putManifest(m, tag, signal);
  }

  /** The tag the root is written under in index.json. */
  protected get effectiveTag(): string | undefined {
    return this.layout?.effectiveTag ?? this.tag;
  }

  /** What goes into the tar, in order (the staged layout in `layout.dir` is complete when this is called). */
  protected abstract entries(layout: OciLayoutDestination, signal: AbortSignal): Promise<PackEntry[]>;

  async commit(signal: AbortSignal): Promise<void> {
    const layout = this.layout;
    if (!layout) throw new RegctlError('NOTHING_TO_COMMIT', `${this.out}: no image was written`);
    await layout.commit(signal);
    const entries = await this.entries(layout, signal);
    const tmp = this.temps.add(`${this.out}.tmp-${randomBytes(4).toString('hex')}`);
    await packTar(tmp, entries, signal);
    if (signal.aborted) throw signal.reason;
    await rename(tmp, this.out);
    this.temps.forget(tmp);
    await syncDir(dirname(this.out));
    await this.temps.cleanup();
  }

  async abort(): Promise<void> {
    await this.staged?.catch(() => undefined);
    await this.layout?.abort();
    await this.temps.cleanup();
  }

  abstract describe(digest: Digest): string;
}
