// oci-archive: an OCI image layout inside a tar; read in place through a TarIndex, written staged and packed on commit.
import { UsageError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { StagedArchiveDestination, checkOutput, layoutEntries } from './archive-dest.js';
import { LayoutSource, TarFiles } from './layout-read.js';
import { TarIndex } from './tar-index.js';
import type { OciLayoutDestination } from './oci-layout.js';
import type { PackEntry } from './tar-write.js';
import type { DestinationCaps, ImageDestination, ImageSource } from './types.js';

/** Loads a tar's index, turning a missing file into a usage error that names the location. */
export async function loadTar(kind: string, path: string, signal?: AbortSignal): Promise<TarIndex> {
  try {
    return await TarIndex.load(path, signal);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${kind}:${path}: no such file`);
    if (code === 'EISDIR') throw new UsageError(`${kind}:${path}: is a directory`, 'use oci: for a layout directory');
    throw err;
  }
}

/** Opens an oci-archive for reading: the image is picked by tag, by digest, or as the only one. */
export async function openOciArchiveSource(
  loc: { path: string; tag?: string; digest?: Digest },
  signal?: AbortSignal,
): Promise<ImageSource> {
  const tar = await loadTar('oci-archive', loc.path, signal);
  if (!tar.has('index.json'))
    throw new UsageError(`oci-archive:${loc.path}: no index.json in the archive (not an OCI layout)`);
  return new LayoutSource(
    { kind: 'oci-archive', path: loc.path, tag: loc.tag, digest: loc.digest },
    new TarFiles(tar),
    {
      tag: loc.tag,
      digest: loc.digest,
    },
  );
}

class OciArchiveDestination extends StagedArchiveDestination {
  readonly caps: DestinationCaps = { concurrentWrites: true, keepsIndex: true };

  protected async entries(layout: OciLayoutDestination): Promise<PackEntry[]> {
    const all = await layoutEntries(layout.dir);
    // oci-layout and index.json first, so a streaming reader meets them before the blobs.
    const meta = all.filter((e) => e.name === 'oci-layout' || e.name === 'index.json').reverse();
    return [...meta, ...all.filter((e) => !meta.includes(e))];
  }

  describe(digest: Digest): string {
    const tag = this.effectiveTag;
    return `oci-archive:${this.out}${tag ? `:${tag}` : ''}@${digest}`;
  }
}

/** Opens an oci-archive for writing; the file at `path` is replaced (atomically) on commit, untouched otherwise. */
export async function openOciArchiveDestination(
  loc: { path: string; tag?: string },
  signal?: AbortSignal,
): Promise<ImageDestination> {
  if (signal?.aborted) throw signal.reason;
  await checkOutput(loc.path, 'oci-archive');
  return new OciArchiveDestination({ kind: 'oci-archive', path: loc.path, tag: loc.tag }, loc.path, loc.tag);
}
