// docker-archive: reads `docker save` tarballs; writes a hybrid (OCI layout + docker's manifest.json) that docker, ctr
// and skopeo load.
import { RegctlError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { hexOf } from '../oci/digest.js';
import type { FetchedManifest } from '../oci/manifest.js';
import { StagedArchiveDestination, checkOutput, layoutEntries } from './archive-dest.js';
import { familiarName } from './docker-archive-read.js';
import { CONTAINERD_NAME, blobName } from './layout-read.js';
import type { OciLayoutDestination } from './oci-layout.js';
import type { PackEntry } from './tar-write.js';
import type { DestinationCaps, ImageDestination } from './types.js';

export { DockerArchiveSource, familiarName, openDockerArchiveSource } from './docker-archive-read.js';

type Name = ReturnType<typeof familiarName>;

class DockerArchiveDestination extends StagedArchiveDestination {
  readonly caps: DestinationCaps = { concurrentWrites: true, maxPlatforms: 1, keepsIndex: false };
  // Its tar starts with blobs/ (sorted by name, as Docker 25+ writes): they can go straight to their places.
  protected override readonly placesBlobs = true;

  constructor(
    path: string,
    private readonly name: Name | undefined,
    locName: string | undefined,
  ) {
    super(
      { kind: 'docker-archive', path, name: locName },
      path,
      name?.tag,
      name ? { annotations: { [CONTAINERD_NAME]: name.full } } : {},
    );
  }

  override async putManifest(m: FetchedManifest, _tag: string | undefined, signal: AbortSignal): Promise<void> {
    if (m.manifest.kind !== 'image') {
      throw new RegctlError('UNSUPPORTED', `docker-archive:${this.out}: holds one image, not an index`, {
        hint: 'choose one platform with --platform os/arch',
        exitCode: 2,
      });
    }
    // The index.json entry is named after the archive's own name, not the source's tag.
    return super.putManifest(m, undefined, signal);
  }

  protected async entries(layout: OciLayoutDestination): Promise<PackEntry[]> {
    const root = layout.root;
    if (root?.manifest.kind !== 'image')
      throw new RegctlError('NOTHING_TO_COMMIT', `docker-archive:${this.out}: no image was written`);
    const m = root.manifest;
    const manifestJson = [
      {
        Config: blobName(m.config.digest),
        RepoTags: this.name ? [this.name.familiar] : [],
        Layers: m.layers.map((l) => blobName(l.digest)),
      },
    ];
    const extra: PackEntry[] = [
      { name: 'manifest.json', type: 'file', bytes: Buffer.from(`${JSON.stringify(manifestJson)}\n`) },
    ];
    const top = m.layers[m.layers.length - 1];
    if (this.name && top) {
      const repositories = { [this.name.repo]: { [this.name.tag]: hexOf(top.digest) } };
      extra.push({ name: 'repositories', type: 'file', bytes: Buffer.from(`${JSON.stringify(repositories)}\n`) });
    }
    // Sorted by name: blobs/…, index.json, manifest.json, oci-layout, repositories (the order Docker 25+ writes).
    return [...(await layoutEntries(layout.dir)), ...extra].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }

  /** `docker-archive:PATH[:NAME]@DIGEST`, as `ref@digest` for the other kinds: the image's manifest digest. */
  describe(digest: Digest): string {
    return `docker-archive:${this.out}${this.name ? `:${this.name.familiar}` : ''}@${digest}`;
  }
}

/**
 * Opens a docker-archive for writing. RepoTags come from `loc.name`, else `opts.defaultName` (the source reference),
 * normalised as docker does (`docker.io/library/alpine:3.20` → `alpine:3.20`); else the image is unnamed.
 */
export async function openDockerArchiveDestination(
  loc: { path: string; name?: string },
  opts: { defaultName?: string } = {},
  signal?: AbortSignal,
): Promise<ImageDestination> {
  if (signal?.aborted) throw signal.reason;
  const text = loc.name ?? opts.defaultName;
  const name = text === undefined ? undefined : familiarName(text);
  await checkOutput(loc.path, 'docker-archive');
  return new DockerArchiveDestination(loc.path, name, loc.name);
}
