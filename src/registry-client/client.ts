// RegistryClient: the distribution API (manifests, blobs, uploads, mounts, tags, catalog) over the one request path.
import { RegctlError } from '../errors.js';
import { type Digest, isDigest } from '../oci/digest.js';
import { ACCEPT_MANIFESTS } from '../oci/media-types.js';
import { type Descriptor, type FetchedManifest, toFetched } from '../oci/manifest.js';
import { isRepositoryName, isTag } from '../location/reference.js';
import { RegistryError, bodyHas, deletionHint, parseErrorBody } from './errors.js';
import { type HttpContext, type RegResponse, header, send, sendRead } from './http.js';
import { resolveHanded } from './origin.js';
import type { RetryBudget } from './retry.js';
import { MAX_LIST_TOTAL_BYTES } from './read.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

/** A mount's answer: mounted (201), or refused, with the upload session a 202 opened. */
export type MountAnswer = { mounted: true } | { mounted: false; session?: string };

export interface Repo {
  registry: string;
  repository: string;
}

/**
 * `/v2/<repository>/<rest…>` from names that may have come from a server or a file: each is checked against the
 * distribution grammar (a tag, a digest, a repository) and every segment percent-encoded, so that no name can
 * climb out of its place (`..`) or add a query.
 */
export function v2Path(r: Repo, ...rest: string[]): string {
  if (!isRepositoryName(r.repository)) {
    const shown = JSON.stringify(r.repository.slice(0, 300));
    throw new RegctlError('INVALID_NAME', `invalid repository name ${shown}`, { exitCode: 2 });
  }
  const enc = (seg: string) => encodeURIComponent(seg).replace(/%3A/g, ':');
  return `/v2/${r.repository.split('/').map(enc).join('/')}/${rest.map(enc).join('/')}`;
}

/** A manifest reference: a tag or a digest, nothing else. */
function checkReference(reference: string): string {
  if (!isTag(reference) && !isDigest(reference)) {
    const shown = JSON.stringify(reference.slice(0, 300));
    throw new RegctlError('INVALID_NAME', `invalid tag or digest ${shown}`, { exitCode: 2 });
  }
  return reference;
}

const pull = (r: Repo) => `repository:${r.repository}:pull`;
const push = (r: Repo) => `repository:${r.repository}:pull,push`;

/** Reads a response body into memory, refusing more than `cap` bytes. */
export async function readCapped(res: RegResponse, cap: number, what: string): Promise<Uint8Array> {
  const declared = Number(header(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > cap) {
    await res.body.dump().catch(() => {});
    throw new RegctlError('TOO_LARGE', `${what}: ${declared} bytes is over the ${cap / 1024 / 1024} MiB limit`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += (chunk as Buffer).byteLength;
    if (n > cap) {
      res.body.destroy();
      throw new RegctlError('TOO_LARGE', `${what}: over the ${cap / 1024 / 1024} MiB limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks, n));
}

function descriptorFromHead(res: RegResponse, what: string): Descriptor {
  const digest = header(res.headers, 'docker-content-digest');
  if (!digest || !isDigest(digest))
    throw new RegctlError('BAD_RESPONSE', `${what}: the registry sent no valid Docker-Content-Digest`);
  const size = Number(header(res.headers, 'content-length'));
  const mediaType = (header(res.headers, 'content-type') ?? '').split(';')[0].trim();
  return { mediaType, digest, size: Number.isSafeInteger(size) ? size : -1 };
}

export class RegistryClient {
  /**
   * `host/repository@digest` → the `OCI-Subject` a manifest PUT was answered with: the registry processed the
   * manifest's `subject` (OCI distribution 1.1, "Pushing Manifests with Subject"); without it, the fallback tag.
   */
  readonly subjectAcks = new Map<string, string>();

  constructor(readonly http: HttpContext) {}

  private manifestPath(r: Repo, reference: string): string {
    return v2Path(r, 'manifests', checkReference(reference));
  }

  /**
   * HEAD a manifest: its descriptor, or undefined when not found. No pull is counted on Docker Hub.
   * `forPush`: ask for a token that also allows push, so the uploads that follow reuse it.
   */
  async headManifest(
    r: Repo,
    reference: string,
    signal: AbortSignal,
    forPush = false,
  ): Promise<Descriptor | undefined> {
    const what = `manifest ${r.registry}/${r.repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    const res = await send(this.http, {
      registry: r.registry,
      method: 'HEAD',
      path: this.manifestPath(r, reference),
      headers: { accept: ACCEPT_MANIFESTS },
      scopes: [forPush ? push(r) : pull(r)],
      expect: [200, 404],
      idempotent: true,
      signal,
      what,
    });
    await res.body.dump().catch(() => {});
    if (res.status === 404) return undefined;
    // A registry that names no digest on HEAD (some proxies and old registries): fetch the manifest and hash it.
    if (header(res.headers, 'docker-content-digest') === undefined)
      return (await this.getManifest(r, reference, signal)).desc;
    const desc = descriptorFromHead(res, what);
    if (isDigest(reference) && desc.digest !== reference) {
      throw new RegctlError('DIGEST_MISMATCH', `${what}: the registry answered for ${desc.digest}`);
    }
    return desc;
  }

  /** GET a manifest; bytes capped at 4 MiB and verified against the requested digest (or the header's). */
  async getManifest(r: Repo, reference: string, signal: AbortSignal): Promise<FetchedManifest> {
    const what = `manifest ${r.registry}/${r.repository}${isDigest(reference) ? '@' : ':'}${reference}`;
    const { res, value: bytes } = await sendRead(
      this.http,
      {
        registry: r.registry,
        method: 'GET',
        path: this.manifestPath(r, reference),
        headers: { accept: ACCEPT_MANIFESTS },
        scopes: [pull(r)],
        expect: [200],
        idempotent: true,
        signal,
        what,
      },
      (res) => readCapped(res, MAX_JSON_BYTES, what),
    );
    const headerDigest = header(res.headers, 'docker-content-digest');
    const expected = isDigest(reference)
      ? reference
      : headerDigest && isDigest(headerDigest)
        ? headerDigest
        : undefined;
    try {
      return toFetched(bytes, header(res.headers, 'content-type'), expected);
    } catch (err) {
      if (err instanceof RegctlError) throw new RegctlError(err.code, `${what}: ${err.message}`, { hint: err.hint });
      throw err;
    }
  }

  async putManifest(r: Repo, reference: string, m: FetchedManifest, signal: AbortSignal): Promise<Digest> {
    const what = `push manifest ${r.registry}/${r.repository}${isDigest(reference) ? '@' : ':'}${reference}`;
    const res = await send(this.http, {
      registry: r.registry,
      method: 'PUT',
      path: this.manifestPath(r, reference),
      headers: { 'content-type': m.desc.mediaType },
      body: m.bytes,
      scopes: [push(r)],
      expect: [200, 201, 202],
      idempotent: true,
      signal,
      what,
    });
    await res.body.dump().catch(() => {});
    const subject = header(res.headers, 'oci-subject');
    if (subject) this.subjectAcks.set(`${r.registry}/${r.repository}@${m.desc.digest}`, subject);
    const got = header(res.headers, 'docker-content-digest');
    if (
      got &&
      isDigest(got) &&
      got !== m.desc.digest &&
      got.startsWith('sha256:') === m.desc.digest.startsWith('sha256:')
    ) {
      throw new RegctlError('DIGEST_MISMATCH', `${what}: the registry stored ${got}, not ${m.desc.digest}`);
    }
    return m.desc.digest;
  }

  async deleteManifest(r: Repo, digest: Digest, signal: AbortSignal): Promise<void> {
    const what = `delete ${r.registry}/${r.repository}@${digest}`;
    let res: RegResponse;
    try {
      res = await send(this.http, {
        registry: r.registry,
        method: 'DELETE',
        path: this.manifestPath(r, digest),
        scopes: [`repository:${r.repository}:delete`, pull(r)],
        expect: [200, 202],
        idempotent: true,
        signal,
        what,
      });
    } catch (err) {
      // Refused (405): say how this registry deletes instead (Docker Hub, GHCR) or what to enable (distribution).
      if (err instanceof RegistryError && err.status === 405) {
        const errors = err.ociCodes.map((code) => ({ code }));
        const hint = deletionHint(r.registry);
        throw new RegistryError({ status: 405, method: 'DELETE', url: err.url, what, errors, hint });
      }
      throw err;
    }
    await res.body.dump().catch(() => {});
  }

  /**
   * DELETE of a tag alone (OCI distribution 1.1). 'deleted': the tag is gone. 'by-digest-only': the registry deletes
   * manifests but not tags (distribution 2.8 answers 400 DIGEST_INVALID, others 404). 'unsupported': it deletes
   * nothing (405 UNSUPPORTED: distribution without storage.delete.enabled, Docker Hub, GHCR).
   */
  async deleteTag(r: Repo, tag: string, signal: AbortSignal): Promise<'deleted' | 'by-digest-only' | 'unsupported'> {
    const res = await send(this.http, {
      registry: r.registry,
      method: 'DELETE',
      path: this.manifestPath(r, tag),
      scopes: [`repository:${r.repository}:delete`, pull(r)],
      expect: [200, 202, 400, 404, 405, 501],
      idempotent: true,
      signal,
      what: `delete ${r.registry}/${r.repository}:${tag}`,
    });
    await res.body.dump().catch(() => {});
    if (res.status === 200 || res.status === 202) return 'deleted';
    return res.status === 405 || res.status === 501 ? 'unsupported' : 'by-digest-only';
  }

  async hasBlob(r: Repo, digest: Digest, signal: AbortSignal, scopes?: string[]): Promise<boolean> {
    const res = await send(this.http, {
      registry: r.registry,
      method: 'HEAD',
      path: v2Path(r, 'blobs', digest),
      scopes: scopes ?? [pull(r)],
      expect: [200, 404],
      idempotent: true,
      signal,
      followRedirects: true,
      what: `blob ${r.registry}/${r.repository}@${digest}`,
    });
    await res.body.dump().catch(() => {});
    return res.status === 200;
  }

  /** GET a blob from `offset`; `offset` in the answer says where the bytes really start (0 when Range was ignored). */
  async getBlob(
    r: Repo,
    desc: Descriptor,
    opts: { offset?: number; signal: AbortSignal; budget?: RetryBudget },
  ): Promise<{ body: AsyncIterable<Uint8Array>; offset: number }> {
    const offset = opts.offset ?? 0;
    const res = await send(this.http, {
      registry: r.registry,
      method: 'GET',
      path: v2Path(r, 'blobs', desc.digest),
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: [pull(r)],
      expect: offset > 0 ? [200, 206] : [200],
      idempotent: true,
      followRedirects: true,
      signal: opts.signal,
      ...(opts.budget ? { budget: opts.budget } : {}),
      what: `blob ${r.registry}/${r.repository}@${desc.digest}`,
    });
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '');
      if (!m || Number(m[1]) !== offset) {
        res.body.destroy();
        throw new RegctlError('BAD_RANGE', `blob ${desc.digest}: the registry answered a range from the wrong offset`);
      }
      return { body: res.body, offset };
    }
    return { body: res.body, offset: 0 };
  }

  /**
   * Cross-repository mount. `mounted`: the registry has it (201). Refused: a 202 opens an upload session instead (ECR
   * answers 202 for a blob no manifest of the source references), whose absolute Location is answered to upload into.
   */
  async mountBlob(r: Repo, from: Repo, digest: Digest, signal: AbortSignal): Promise<MountAnswer> {
    const res = await send(this.http, {
      registry: r.registry,
      method: 'POST',
      path: v2Path(r, 'blobs', 'uploads', ''),
      query: { mount: digest, from: from.repository },
      scopes: [push(r), pull(from)],
      expect: [201, 202],
      idempotent: false,
      retries: 0,
      signal,
      what: `mount ${digest} from ${from.repository} into ${r.repository}`,
    });
    await res.body.dump().catch(() => {});
    if (res.status === 201) return { mounted: true };
    const location = header(res.headers, 'location');
    return location
      ? { mounted: false, session: resolveHanded(location, res.url, 'mount').toString() }
      : { mounted: false };
  }

  /**
   * Opens an upload session; answers its absolute Location. `retry: false` leaves a dropped connection to the caller
   * (ECR hangs up on a POST into a repository that does not exist: asked about, not blindly sent again). `budget`: the
   * upload's, shared with the fresh sessions its caller may open.
   */
  async startUpload(
    r: Repo,
    signal: AbortSignal,
    opts: { retry?: boolean; budget?: RetryBudget } = {},
  ): Promise<string> {
    const res = await send(this.http, {
      registry: r.registry,
      method: 'POST',
      path: v2Path(r, 'blobs', 'uploads', ''),
      scopes: [push(r)],
      expect: [202],
      idempotent: true,
      ...(opts.retry === false ? { retries: 0 } : {}),
      ...(opts.budget ? { budget: opts.budget } : {}),
      signal,
      what: `start upload to ${r.registry}/${r.repository}`,
    });
    await res.body.dump().catch(() => {});
    const location = header(res.headers, 'location');
    if (!location)
      throw new RegctlError('BAD_RESPONSE', `start upload to ${r.registry}/${r.repository}: no Location in the answer`);
    return resolveHanded(location, res.url, `start upload to ${r.registry}/${r.repository}`).toString();
  }

  /**
   * Streams a blob into an open session. 'put': one PUT with the body (distribution); 'patch': one PATCH with the body
   * then an empty `PUT ?digest=` to the Location of the PATCH's answer (ECR: its chunked uploads are unreliable, and it
   * answers every PATCH 201 yet stores nothing until the PUT, aws/containers-roadmap#2831).
   */
  async finishUpload(
    r: Repo,
    location: string,
    desc: Descriptor,
    body: AsyncIterable<Uint8Array>,
    mode: 'put' | 'patch',
    signal: AbortSignal,
    budget?: RetryBudget,
  ): Promise<void> {
    const what = `upload ${desc.digest} to ${r.registry}/${r.repository}`;
    let putUrl = location;
    const shared = budget ? { budget } : {};
    const common = { registry: r.registry, scopes: [push(r)], idempotent: false, signal, what, ...shared };
    if (mode === 'patch') {
      const res = await send(this.http, {
        ...common,
        method: 'PATCH',
        url: location,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
        body,
        expect: [201, 202, 204],
      });
      await res.body.dump().catch(() => {});
      putUrl = resolveHanded(header(res.headers, 'location') ?? location, res.url, what).toString();
    }
    const res = await send(this.http, {
      ...common,
      method: 'PUT',
      url: putUrl,
      query: { digest: desc.digest },
      headers:
        mode === 'put'
          ? { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) }
          : { 'content-length': '0' },
      body: mode === 'put' ? body : undefined,
      expect: [201, 204],
    });
    await res.body.dump().catch(() => {});
  }

  /**
   * Streams bytes of a size unknown up front into an open session (one chunked PATCH), then commits them under
   * `digest()`, read once the stream has ended.
   */
  async finishUploadStreaming(
    r: Repo,
    location: string,
    body: AsyncIterable<Uint8Array>,
    digest: () => string,
    signal: AbortSignal,
    budget?: RetryBudget,
  ): Promise<void> {
    const what = `upload to ${r.registry}/${r.repository}`;
    const shared = budget ? { budget } : {};
    const common = { registry: r.registry, scopes: [push(r)], idempotent: false, signal, what, ...shared };
    const patched = await send(this.http, {
      ...common,
      method: 'PATCH',
      url: location,
      headers: { 'content-type': 'application/octet-stream' },
      body,
      expect: [201, 202, 204],
    });
    await patched.body.dump().catch(() => {});
    const putUrl = resolveHanded(header(patched.headers, 'location') ?? location, patched.url, common.what).toString();
    const res = await send(this.http, {
      ...common,
      method: 'PUT',
      url: putUrl,
      query: { digest: digest() },
      headers: { 'content-length': '0' },
      expect: [201, 204],
    });
    await res.body.dump().catch(() => {});
  }

  async cancelUpload(r: Repo, location: string, signal: AbortSignal): Promise<void> {
    const res = await send(this.http, {
      registry: r.registry,
      method: 'DELETE',
      url: location,
      scopes: [push(r)],
      expect: [200, 202, 204, 404],
      idempotent: true,
      signal,
      // Cleanup after a failure: a short retry budget (a session left open holds storage on the registry), and no
      // retry lines (the failure that led here was reported; the registry may be gone).
      retries: 2,
      quietRetries: true,
      what: `cancel upload to ${r.repository}`,
    });
    await res.body.dump().catch(() => {});
  }

  /**
   * true when the repository does not exist (its tag list answers 404 NAME_UNKNOWN); false when it does or when unsure.
   */
  async repositoryMissing(r: Repo, signal: AbortSignal): Promise<boolean> {
    const res = await send(this.http, {
      registry: r.registry,
      method: 'GET',
      path: v2Path(r, 'tags', 'list'),
      query: { n: '1' },
      scopes: [push(r)],
      expect: [200, 404],
      idempotent: true,
      signal,
      what: `tags of ${r.registry}/${r.repository}`,
    });
    const text = Buffer.from(await readCapped(res, 64 * 1024, 'tag list')).toString('utf8');
    return res.status === 404 && bodyHas(parseErrorBody(text), 'NAME_UNKNOWN');
  }

  /** Every tag, following `Link` across pages (`n` at most 1000). */
  async listTags(r: Repo, signal: AbortSignal, pageSize = 1000): Promise<string[]> {
    const what = `tags of ${r.registry}/${r.repository}`;
    return this.paged(r.registry, v2Path(r, 'tags', 'list'), 'tags', [pull(r)], pageSize, signal, what);
  }

  async catalog(registry: string, signal: AbortSignal, pageSize = 1000): Promise<string[]> {
    return this.paged(
      registry,
      '/v2/_catalog',
      'repositories',
      ['registry:catalog:*'],
      pageSize,
      signal,
      `catalog of ${registry}`,
    );
  }

  private async paged(
    registry: string,
    path: string,
    field: string,
    scopes: string[],
    n: number,
    signal: AbortSignal,
    what: string,
  ): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = undefined;
    const seen = new Set<string>();
    // Every page together is bounded too: a registry paging without end is cut off, not followed forever.
    let total = 0;
    let listPath: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const { res, value: bytes }: { res: RegResponse; value: Uint8Array } = await sendRead(
        this.http,
        {
          registry,
          method: 'GET',
          ...(next ? { url: next } : { path, query: { n: String(Math.min(n, 1000)) } }),
          scopes,
          expect: [200],
          idempotent: true,
          signal,
          what,
        },
        (r) => readCapped(r, MAX_JSON_BYTES, what),
      );
      total += bytes.byteLength;
      if (total > MAX_LIST_TOTAL_BYTES) {
        const mib = MAX_LIST_TOTAL_BYTES / 1024 / 1024;
        throw new RegctlError('TOO_LARGE', `${what}: the pages together are over the ${mib} MiB limit`);
      }
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
      } catch {
        throw new RegctlError('BAD_RESPONSE', `${what}: invalid JSON`);
      }
      const items = doc[field];
      if (Array.isArray(items)) for (const t of items) if (typeof t === 'string') out.push(t);
      const link = header(res.headers, 'link');
      const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      if (!m) return out;
      // The next page is the same list with other parameters (`?n=…&last=…`): nothing else is followed.
      const nextUrl = resolveHanded(m[1], res.url, what);
      listPath ??= new URL(res.url).pathname;
      if (nextUrl.pathname !== listPath) {
        const shown = nextUrl.pathname.slice(0, 200);
        throw new RegctlError('BAD_RESPONSE', `${what}: the Link to the next page names another path (${shown})`);
      }
      next = nextUrl.toString();
      if (seen.has(next)) return out;
      seen.add(next);
    }
    return out;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof RegistryError && (err.status === 404 || err.has('MANIFEST_UNKNOWN') || err.has('NAME_UNKNOWN'));
}
