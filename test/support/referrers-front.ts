// A front that gives the distribution registry (2.8, no referrers API) the OCI 1.1 referrers API, from the manifests
// pushed through it, as the spec describes: https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md
import { createHash } from 'node:crypto';
import { type Front, type FrontRequest, sendRegistryError, startFront } from './front.js';

const INDEX = 'application/vnd.oci.image.index.v1+json';

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ReferrersFront extends Front {
  /** repository → subject digest → referrers seen */
  referrers: Map<string, Map<string, Entry[]>>;
}

/** What "Listing Referrers" says a descriptor of a referrer carries. */
function entryOf(body: Buffer, contentType: string | undefined): { subject?: string; entry: Entry } {
  const doc = JSON.parse(body.toString('utf8')) as Record<string, any>;
  const mediaType = (typeof doc.mediaType === 'string' ? doc.mediaType : contentType?.split(';')[0]) ?? '';
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const entry: Entry = { mediaType, digest, size: body.length };
  // "The descriptors MUST include an artifactType field that is set to the value of the artifactType in the image
  // manifest or index, if present. If the artifactType is empty or missing in the image manifest, the value of
  // artifactType MUST be set to the config descriptor mediaType value. If the artifactType is empty or missing in an
  // index, the artifactType MUST be omitted. The descriptors MUST include annotations from the image manifest or
  // index." (spec.md, Listing Referrers)
  if (typeof doc.artifactType === 'string' && doc.artifactType) entry.artifactType = doc.artifactType;
  else if (!Array.isArray(doc.manifests) && typeof doc.config?.mediaType === 'string') {
    entry.artifactType = doc.config.mediaType;
  }
  if (doc.annotations && typeof doc.annotations === 'object') entry.annotations = doc.annotations;
  return { subject: typeof doc.subject?.digest === 'string' ? doc.subject.digest : undefined, entry };
}

export async function startReferrersFront(target: string): Promise<ReferrersFront> {
  const referrers = new Map<string, Map<string, Entry[]>>();
  const subjects = new WeakMap<FrontRequest['req'], string>();

  const listing = (r: FrontRequest, repo: string, digest: string): void => {
    // "If the request is invalid, such as a <digest> with an invalid syntax, a 400 Bad Request MUST be returned."
    if (!/^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$/.test(digest)) {
      sendRegistryError(r, 400, 'DIGEST_INVALID', 'invalid digest');
      return;
    }
    // "If a query results in no matching referrers, an empty manifest list MUST be returned" and "the registry MUST
    // NOT return a 404 Not Found to a referrers API requests": an unknown digest is answered 200 with no entries.
    let list = referrers.get(repo)?.get(digest) ?? [];
    const headers: Record<string, string> = {
      'content-type': INDEX,
      'docker-distribution-api-version': 'registry/2.0',
    };
    // "The registry SHOULD support filtering on artifactType … the response MUST include a header
    // OCI-Filters-Applied: artifactType".
    const want = r.url.searchParams.get('artifactType');
    if (want) {
      list = list.filter((e) => e.artifactType === want);
      headers['oci-filters-applied'] = 'artifactType';
    }
    const body = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: list });
    r.record.status = 200;
    r.record.local = true;
    r.record.bytesOut += Buffer.byteLength(body);
    r.res.writeHead(200, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
  };

  const front = await startFront(target, {
    async intercept(r) {
      const path = r.url.pathname;
      const m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(path);
      if (m && r.req.method === 'GET') {
        listing(r, m[1], decodeURIComponent(m[2]));
        return true;
      }
      const put = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
      if (put && r.req.method === 'PUT') {
        const body = await r.readBody();
        let seen: ReturnType<typeof entryOf> | undefined;
        try {
          seen = entryOf(body, r.req.headers['content-type']);
        } catch {
          /* not JSON: the registry answers it */
        }
        if (seen?.subject) subjects.set(r.req, seen.subject);
        await r.forward(body);
        // Listed once stored (the registry answered 201), de-duplicated by digest.
        if (seen?.subject && r.record.status === 201) {
          const byRepo = referrers.get(put[1]) ?? new Map<string, Entry[]>();
          referrers.set(put[1], byRepo);
          const list = byRepo.get(seen.subject) ?? [];
          if (!list.some((e) => e.digest === seen.entry.digest)) list.push(seen.entry);
          byRepo.set(seen.subject, list);
        }
        return true;
      }
      const del = /^\/v2\/(.+)\/manifests\/(sha256:[0-9a-f]{64})$/.exec(path);
      if (del && r.req.method === 'DELETE') {
        await r.forward();
        // A deleted manifest is no longer listed (spec.md, Deleting Manifests: it is gone).
        if (r.record.status === 202)
          for (const list of referrers.get(del[1])?.values() ?? []) {
            const i = list.findIndex((e) => e.digest === del[2]);
            if (i >= 0) list.splice(i, 1);
          }
        return true;
      }
      return false;
    },
    responseHeaders(r, status) {
      // "When processing a request for an image manifest with the subject field, a registry implementation that
      // supports the referrers API MUST respond with the response header OCI-Subject: <subject digest>"
      // (spec.md, Pushing Manifests with Subject).
      const subject = subjects.get(r.req);
      return subject && status === 201 ? { 'oci-subject': subject } : undefined;
    },
  });
  return Object.assign(front, { referrers });
}
