// Archive destinations: an OCI layout staged in a directory beside the output, packed to OUT.tmp-XXXX and renamed on commit.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { TempTracker, syncDir } from '../util/fs.js';
import { OciLayoutDestination, type LayoutWriterOptions } from './oci-layout.js';
import { type PackEntry, packTar } from './tar-write.js';
import type { Bytes, DestinationCaps, ImageDestination } from './types.js';

/** A fresh staging directory beside `out` (same filesystem, so nothing crosses devices at commit). */
export async function makeStaging(out: string, what: string): Promise<string> {
  const st = await stat(out).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`${what}:${out}: is a directory; an archive is written to a file`);
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

export abstract class StagedArchiveDestination implements ImageDestination {
  abstract readonly caps: DestinationCaps;
  protected readonly temps = new TempTracker();
  protected readonly layout: OciLayoutDestination;
  private done = false;

  constructor(
    readonly location: Location,
    readonly out: string,
    protected readonly staging: string,
    tag: string | undefined,
    layoutOpts: LayoutWriterOptions = {},
  ) {
    this.temps.add(staging);
    this.layout = new OciLayoutDestination(location, staging, tag, layoutOpts);
  }

  /** An archive is always written whole: nothing to compare against. */
  async resolve(): Promise<Descriptor | undefined> {
    return undefined;
  }

  hasBlob(desc: Descriptor): Promise<boolean> {
    return this.layout.hasBlob(desc);
  }

  putBlob(desc: Descriptor, open: () => Promise<Bytes>, signal: AbortSignal): Promise<void> {
    return this.layout.putBlob(desc, open, signal);
  }

  putManifest(m: FetchedManifest, tag: string | undefined, signal: AbortSignal): Promise<void> {
    return this.layout.putManifest(m, tag, signal);
  }

  /** What goes into the tar, in order (the staged layout is complete when this is called). */
  protected abstract entries(signal: AbortSignal): Promise<PackEntry[]>;

  async commit(signal: AbortSignal): Promise<void> {
    await this.layout.commit(signal);
    const entries = await this.entries(signal);
    const tmp = this.temps.add(`${this.out}.tmp-${randomBytes(4).toString('hex')}`);
    await packTar(tmp, entries, signal);
    if (signal.aborted) throw signal.reason;
    await rename(tmp, this.out);
    this.temps.forget(tmp);
    this.done = true;
    await syncDir(dirname(this.out));
    await this.temps.cleanup();
  }

  async abort(): Promise<void> {
    await this.layout.abort();
    await this.temps.cleanup();
  }

  get committed(): boolean {
    return this.done;
  }

  abstract describe(digest: Digest): string;
}

/** Removes a staging directory and everything in it (used when opening fails half-way). */
export async function dropStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
}
