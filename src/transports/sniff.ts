// Bare local paths: detect the format from the content when reading, choose it by extension when writing.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, hasCode } from '../errors.js';
import type { LocalKind } from '../location/parse.js';
import { TarIndex } from './tar-index.js';

/**
 * A directory with an oci-layout file → oci; a tar with manifest.json → docker-archive; a tar with an OCI layout →
 * oci-archive.
 */
export async function detectLocalKind(path: string, signal?: AbortSignal): Promise<LocalKind> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UsageError(`${path}: no such file or directory`);
  if (st.isDirectory()) {
    if (await stat(join(path, 'oci-layout')).catch(() => undefined)) return 'oci';
    throw new UsageError(`${path}: a directory without an oci-layout file is not an OCI image layout`);
  }
  if (!st.isFile()) throw new UsageError(`${path}: not a regular file or directory`);
  let tar: TarIndex;
  try {
    tar = await TarIndex.load(path, signal);
  } catch (err) {
    if (hasCode(err, 'TAR_INVALID')) {
      throw new UsageError(
        `${path}: not a docker-archive, oci-archive or OCI layout (${err.message.slice(path.length + 2)})`,
      );
    }
    throw err;
  }
  if (tar.has('manifest.json')) return 'docker-archive';
  if (tar.has('oci-layout') || tar.has('index.json')) return 'oci-archive';
  throw new UsageError(`${path}: a tar without manifest.json or index.json is not an image archive`);
}

/** `.tar` → docker-archive; anything else is an OCI layout directory. */
export function kindForWrite(path: string): LocalKind {
  return /\.tar$/i.test(path) ? 'docker-archive' : 'oci';
}
