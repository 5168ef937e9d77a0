// One tag off an image that other tags also name: the other tags found (list + HEAD), the tag removed alone.
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { RegctlError } from '../errors.js';
import { type Digest, digestOf } from '../oci/digest.js';
import { type Descriptor, toFetched } from '../oci/manifest.js';
import { MT } from '../oci/media-types.js';
import type { RegistryClient, Repo } from './client.js';

/** HEADs at once while looking for the other tags of an image (a HEAD costs no Docker Hub pull). */
const HEADS_AT_ONCE = 8;

/** The tags of `repo` other than `tag` that point at `digest`: every tag listed, then HEADed, a few at a time. */
export async function otherTags(
  client: RegistryClient,
  repo: Repo,
  tag: string,
  digest: Digest,
  signal: AbortSignal,
): Promise<string[]> {
  const tags = (await client.listTags(repo, signal)).filter((t) => t !== tag);
  const limit = pLimit(HEADS_AT_ONCE);
  const same = async (t: string) => ((await client.headManifest(repo, t, signal))?.digest === digest ? t : undefined);
  const heads = await Promise.all(tags.map((t) => limit(() => same(t))));
  return heads.filter((t): t is string => t !== undefined).sort();
}

/**
 * Removes `tag` and leaves the manifest and its other tags alone. First DELETE of the tag itself (OCI distribution
 * 1.1; Quay, zot, distribution 3); where the registry refuses (distribution 2.8 answers 400 DIGEST_INVALID), the tag
 * is pointed at a placeholder image of its own, which is then deleted by digest (regclient's `tag rm`). A registry
 * that deletes nothing (405) is refused before anything is pushed (RegctlError 'DELETE_UNSUPPORTED').
 */
export async function untag(
  client: RegistryClient,
  repo: Repo,
  tag: string,
  current: Descriptor,
  opts: { uploadMode: 'put' | 'patch'; signal: AbortSignal },
): Promise<'tag-deleted' | 'placeholder'> {
  const answer = await client.deleteTag(repo, tag, opts.signal);
  if (answer === 'deleted') return 'tag-deleted';
  // A registry that deletes nothing would keep the placeholder under the tag: refuse before pushing it.
  if (answer === 'unsupported') throw new RegctlError('DELETE_UNSUPPORTED', 'the registry deletes no manifest (405)');
  const { signal } = opts;
  const docker = current.mediaType.startsWith('application/vnd.docker.');
  const { gzipSync } = await import('node:zlib');
  const emptyTar = new Uint8Array(1024);
  const layerBytes = new Uint8Array(gzipSync(emptyTar));
  // A config of its own (the nonce), so the placeholder's digest is no other tag's, even another rm's at the same time.
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { 'io.regctl.placeholder-for-tag': tag, 'io.regctl.nonce': randomBytes(8).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: [digestOf(emptyTar)] },
    }),
  );
  const layer: Descriptor = {
    mediaType: docker ? MT.dockerLayerGzip : MT.ociLayerGzip,
    digest: digestOf(layerBytes),
    size: layerBytes.byteLength,
  };
  const config: Descriptor = {
    mediaType: docker ? MT.dockerConfig : MT.ociConfig,
    digest: digestOf(configBytes),
    size: configBytes.byteLength,
  };
  for (const [desc, bytes] of [
    [layer, layerBytes],
    [config, configBytes],
  ] as const) {
    if (await client.hasBlob(repo, desc.digest, signal)) continue;
    const location = await client.startUpload(repo, signal);
    await client.finishUpload(
      repo,
      location,
      desc,
      (async function* () {
        yield bytes;
      })(),
      opts.uploadMode,
      signal,
    );
  }
  const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config, layers: [layer] }));
  const placeholder = toFetched(manifestBytes, mediaType);
  await client.putManifest(repo, tag, placeholder, signal);
  try {
    await client.deleteManifest(repo, placeholder.desc.digest, signal);
  } catch (err) {
    const where = `${repo.registry}/${repo.repository}:${tag}`;
    const what = `now names a placeholder image (${placeholder.desc.digest}) that could not be deleted`;
    throw new RegctlError('UNTAG_FAILED', `${where} ${what}: ${(err as Error).message}`, { cause: err });
  }
  return 'placeholder';
}
