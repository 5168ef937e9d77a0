// Archive destinations: an OCI layout staged in a directory beside the output, packed to OUT.tmp-XXXX and renamed on
// commit; a docker-archive writes the blobs the copy announces straight into OUT.tmp-XXXX at places laid out first.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, mkdtemp, open, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RegctlError, UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import { type Digest, algorithmOf } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { TempTracker, syncDir } from '../util/fs.js';
import { OciLayoutDestination, type LayoutWriterOptions, sized } from './oci-layout.js';
import { blobName } from './layout-read.js';
import { padding } from './tar-header.js';
import { type PackEntry, headerBlocks, packTar } from './tar-write.js';
import type { Bytes, DestinationCaps, ImageDestination, Reused } from './types.js';

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
  const algs = (await readdir(join(staging, 'blobs'), { withFileTypes: true })).filter(
    (d) => d.isDirectory() && !d.name.startsWith('.'),
  );
  for (const alg of algs.map((d) => d.name).sort()) {
    entries.push({ name: `blobs/${alg}`, type: 'dir' });
    const files = (await readdir(join(staging, 'blobs', alg))).filter((n) => !n.startsWith('.')).sort();
    for (const f of files)
      entries.push({ name: `blobs/${alg}/${f}`, type: 'file', source: join(staging, 'blobs', alg, f) });
  }
  entries.push({ name: 'index.json', type: 'file', source: join(staging, 'index.json') });
  entries.push({ name: 'oci-layout', type: 'file', source: join(staging, 'oci-layout') });
  return entries;
}

/** Bytes gathered before one positional write: fewer, larger writes into the output. */
const WRITE_BATCH = 1 << 20;

/** A blob's place in the output tar: its data starts at `offset`. */
interface Place {
  offset: number;
  size: number;
  written: boolean;
  writing?: Promise<void>;
}

/** The output tar's first part, laid out before the copy: directory entries, then each expected blob at its place. */
interface Placed {
  tmp: string;
  file: FileHandle;
  blobs: Map<Digest, Place>;
  /** Entry names already in the tar (the directories and the blobs). */
  names: Set<string>;
  /** Where the rest of the tar (staged blobs, metadata) starts. */
  end: number;
}

/**
 * Stages the image as an OCI layout (created at the first write, so a copy that fails early leaves nothing), packs it
 * on commit. A subclass that puts its blobs first (`placesBlobs`) has the blobs the copy announces written straight
 * into the output at places laid out in advance, so a gigabyte is neither staged nor copied again by the packing.
 */
export abstract class StagedArchiveDestination implements ImageDestination {
  abstract readonly caps: DestinationCaps;
  protected readonly temps = new TempTracker();
  protected layout?: OciLayoutDestination;
  private staged?: Promise<OciLayoutDestination>;
  /** Whether the tar may start with the blobs (docker-archive); an oci-archive puts its metadata first. */
  protected readonly placesBlobs: boolean = false;
  private placed?: Placed;

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

  /** A local destination reuses a blob it holds already (the file is there, whole). */
  async tryReuse(desc: Descriptor): Promise<Reused | undefined> {
    return (await this.hasBlob(desc)) ? 'exists' : undefined;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    if (this.placed?.blobs.get(desc.digest)?.written) return true;
    return this.layout ? this.layout.hasBlob(desc) : false;
  }

  async expectBlobs(blobs: Descriptor[], signal: AbortSignal): Promise<void> {
    if (!this.placesBlobs || this.placed || blobs.length === 0) return;
    if (signal.aborted) throw signal.reason;
    // Sorted by name, as the packing would have written them: blobs/, blobs/ALG/, blobs/ALG/HEX…
    const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()].sort((a, b) =>
      blobName(a.digest) < blobName(b.digest) ? -1 : 1,
    );
    await mkdir(dirname(this.out), { recursive: true });
    const tmp = this.temps.add(`${this.out}.tmp-${randomBytes(4).toString('hex')}`);
    const file = await open(tmp, 'wx', 0o644);
    const placed: Placed = { tmp, file, blobs: new Map(), names: new Set(), end: 0 };
    this.placed = placed;
    const headers: Array<[Buffer, number]> = [];
    const entry = (name: string, size: number, type: 'file' | 'dir'): number => {
      const h = headerBlocks(name, size, type);
      headers.push([h, placed.end]);
      placed.names.add(name);
      placed.end += h.length;
      const offset = placed.end;
      placed.end += size + padding(size).length;
      return offset;
    };
    entry('blobs', 0, 'dir');
    let alg = '';
    for (const b of unique) {
      if (algorithmOf(b.digest) !== alg) entry(`blobs/${(alg = algorithmOf(b.digest))}`, 0, 'dir');
      placed.blobs.set(b.digest, { offset: entry(blobName(b.digest), b.size, 'file'), size: b.size, written: false });
    }
    // The data goes in later; a padding never written reads as zeros, as a tar's padding is.
    for (const [h, at] of headers) await file.write(h, 0, h.length, at);
  }

  async putBlob(desc: Descriptor, open: () => Promise<Bytes>, signal: AbortSignal): Promise<void> {
    const place = this.placed?.blobs.get(desc.digest);
    if (!place) return (await this.stage()).putBlob(desc, open, signal);
    if (place.written) return;
    if (!place.writing) {
      place.writing = this.writePlaced(this.placed!.file, desc, place, open, signal);
      place.writing.then(
        () => (place.written = true),
        () => (place.writing = undefined),
      );
    }
    return place.writing;
  }

  /** Streams a blob's bytes to its place (size checked here; the digest by the copy engine's verified()). */
  private async writePlaced(
    file: FileHandle,
    desc: Descriptor,
    place: Place,
    open: () => Promise<Bytes>,
    signal: AbortSignal,
  ): Promise<void> {
    let n = 0;
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = async () => {
      if (!batched) return;
      await file.writev(batch, place.offset + n - batched);
      batch = [];
      batched = 0;
    };
    for await (const chunk of sized(await open(), desc)) {
      if (signal.aborted) throw signal.reason;
      n += chunk.byteLength;
      batch.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      batched += chunk.byteLength;
      if (batched >= WRITE_BATCH) await flush();
    }
    await flush();
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
    const placed = this.placed;
    let tmp: string;
    if (placed) {
      const missing = [...placed.blobs].find(([, p]) => !p.written);
      if (missing)
        throw new RegctlError('NOTHING_TO_COMMIT', `${this.out}: blob ${missing[0]} was announced but never written`);
      await placed.file.close();
      // After the placed blobs: what was staged (manifests, blobs nobody announced) and the metadata, in their order.
      tmp = placed.tmp;
      await packTar(
        tmp,
        entries.filter((e) => !placed.names.has(e.name)),
        signal,
        placed.end,
      );
    } else {
      tmp = this.temps.add(`${this.out}.tmp-${randomBytes(4).toString('hex')}`);
      await packTar(tmp, entries, signal);
    }
    if (signal.aborted) throw signal.reason;
    await rename(tmp, this.out);
    this.temps.forget(tmp);
    await syncDir(dirname(this.out));
    await this.temps.cleanup();
  }

  async abort(): Promise<void> {
    await this.placed?.file.close().catch(() => {});
    await this.staged?.catch(() => undefined);
    await this.layout?.abort();
    await this.temps.cleanup();
  }

  abstract describe(digest: Digest): string;
}
