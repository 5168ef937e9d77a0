// ECR's registry behaviour in front of a plain registry, each behaviour with its evidence (see test/support/README.md).
import { createHash } from 'node:crypto';
import { ACCOUNT, type EcrState, type OpContext, resolveImage } from './ecr-ops.js';
import { type Front, type FrontRequest, sendRegistryError, startFront } from './front.js';

/** The password a request carries, when it is `Basic AWS:<password>`. */
function awsPassword(header: string | undefined): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  return decoded.startsWith('AWS:') ? decoded.slice(4) : undefined;
}

// GetAuthorizationToken's token is `AWS:<password>` sent as Basic, valid 12 hours
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html).
function authorized(state: EcrState, header: string | undefined): boolean {
  const password = awsPassword(header);
  const expiresAt = password === undefined ? undefined : state.passwords.get(password);
  return expiresAt !== undefined && expiresAt > Date.now();
}

const isDigestRef = (ref: string | undefined) => ref !== undefined && /^[a-z0-9]+:[a-f0-9]{32,}$/.test(ref);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The path and query of an upstream Location, so that the client keeps talking to the front. */
const local = (location: string | null, base: string) => {
  const u = new URL(location ?? '', base);
  return `${u.pathname}${u.search}`;
};

/** Blobs a manifest names (an image manifest's config and layers); an index names manifests, not blobs. */
function blobsOf(body: Buffer): string[] {
  try {
    const doc = JSON.parse(body.toString('utf8')) as {
      config?: { digest?: unknown };
      layers?: Array<{ digest?: unknown }>;
    };
    return [doc.config?.digest, ...(doc.layers ?? []).map((l) => l.digest)].filter(
      (d): d is string => typeof d === 'string',
    );
  } catch {
    return [];
  }
}

/**
 * A manifest PUT: tag immutability, and what the manifest references (for mounts). An IMMUTABLE repository refuses a
 * tag that names another image with 400 TAG_INVALID and this text (aws/containers-roadmap#862, moby/buildkit#3776).
 */
async function putManifest(r: FrontRequest, ctx: OpContext, repo: string, immutable: boolean): Promise<boolean> {
  const body = await r.readBody();
  const tag = r.record.ref!;
  if (immutable && !isDigestRef(tag)) {
    const current = await resolveImage(ctx, repo, tag);
    if (current && current !== sha256(body)) {
      sendRegistryError(
        r,
        400,
        'TAG_INVALID',
        `The image tag '${tag}' already exists in the '${repo}' repository ` +
          `and cannot be overwritten because the repository is immutable.`,
      );
      return true;
    }
  }
  await r.forward(body);
  if (r.record.status === 201) {
    const refs = (ctx.state.referenced ??= new Map()).get(repo) ?? new Set<string>();
    for (const d of blobsOf(body)) refs.add(d);
    ctx.state.referenced.set(repo, refs);
  }
  return true;
}

/**
 * ECR answers every PATCH 201 Created (not 202) and commits nothing until the `PUT ?digest=` that closes the session
 * (aws/containers-roadmap#2831, jdx/mise#11376, dotnet/sdk-container-builds#279): the PATCH goes upstream (which
 * keeps the bytes in the session), and its 202 is answered as 201 with the session's Location.
 */
async function patch(r: FrontRequest, upstreamUrl: string): Promise<boolean> {
  const body = await r.readBody();
  const res = await fetch(new URL(r.req.url ?? '/', upstreamUrl), {
    method: 'PATCH',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
    body,
  });
  await res.arrayBuffer();
  r.record.local = true;
  if (res.status !== 202) {
    r.record.status = res.status;
    r.res.writeHead(res.status, { 'content-length': '0' }).end();
    return true;
  }
  r.record.status = 201;
  const headers: Record<string, string> = {
    location: local(res.headers.get('location'), upstreamUrl),
    'content-length': '0',
  };
  for (const h of ['range', 'docker-upload-uuid']) if (res.headers.get(h)) headers[h] = res.headers.get(h)!;
  r.res.writeHead(201, headers).end();
  return true;
}

/**
 * A mount POST (`?mount=&from=`). ECR mounts only where the account enabled BLOB_MOUNTING, only between repositories
 * with the same encryption, and only a blob that a manifest in the source repository references
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/blob-mounting.html, aws/containers-roadmap#2860). Otherwise
 * it answers 202 with a fresh upload session, as the distribution spec says a refused mount does.
 */
async function mount(r: FrontRequest, state: EcrState, upstreamUrl: string): Promise<boolean> {
  const digest = r.url.searchParams.get('mount') ?? '';
  const from = state.repositories.get(r.url.searchParams.get('from') ?? '');
  const to = state.repositories.get(r.record.repo!)!;
  const sameKeys = from && JSON.stringify(from.encryptionConfiguration) === JSON.stringify(to.encryptionConfiguration);
  if (state.blobMounting && sameKeys && state.referenced?.get(from.repositoryName)?.has(digest)) {
    await r.forward();
    return true;
  }
  const res = await fetch(new URL(`/v2/${r.record.repo}/blobs/uploads/`, upstreamUrl), {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  await res.arrayBuffer();
  r.record.status = res.status;
  r.record.local = true;
  r.res
    .writeHead(res.status, { location: local(res.headers.get('location'), upstreamUrl), 'content-length': '0' })
    .end();
  return true;
}

export async function startEcrFront(state: EcrState, ctx: OpContext, upstreamUrl: string): Promise<Front> {
  return startFront(upstreamUrl, {
    async intercept(r) {
      const { record } = r;
      // Unauthorized: 401 with ECR's Basic challenge and a plain-text `Not Authorized` body, not a JSON error (the
      // header and body as captured from ECR and quoted in client tests, e.g. renovatebot/renovate's image registry).
      if (!authorized(state, r.req.headers.authorization)) {
        await r.readBody().catch(() => Buffer.alloc(0));
        record.status = 401;
        record.local = true;
        r.res.writeHead(401, {
          'www-authenticate': `Basic realm="https://${state.registryHost}/",service="ecr.amazonaws.com"`,
          'content-type': 'text/plain; charset=utf-8',
          'docker-distribution-api-version': 'registry/2.0',
        });
        r.res.end(r.req.method === 'HEAD' ? undefined : 'Not Authorized');
        return true;
      }
      // Evidence is thin and split on ECR's /v2/_catalog (gardener/cc-utils#1722 lists through it; ECR documents
      // DescribeRepositories instead): the harsher model refuses it.
      if (record.kind === 'catalog') {
        sendRegistryError(r, 405, 'UNSUPPORTED', 'The operation is unsupported.');
        return true;
      }
      if (record.repo !== undefined && !state.repositories.has(record.repo)) {
        // An upload POST into a repository that does not exist is hung up on: no status, no body, docker prints
        // `EOF` (aws/containers-roadmap#1970, docker/build-push-action#850, dotnet/sdk-container-builds#279).
        if (r.req.method === 'POST' && (record.kind === 'upload' || record.kind === 'mount')) {
          record.local = true;
          r.req.socket.destroy();
          return true;
        }
        // Elsewhere, 404 NAME_UNKNOWN with this text (aws-actions/amazon-ecr-login#202, open-component-model/ocm#301).
        await r.readBody().catch(() => Buffer.alloc(0));
        sendRegistryError(
          r,
          404,
          'NAME_UNKNOWN',
          `The repository with name '${record.repo}' does not exist in the registry with id '${ACCOUNT}'`,
          {},
          { name: record.repo },
        );
        return true;
      }
      const repo = record.repo ? state.repositories.get(record.repo) : undefined;
      if (record.kind === 'manifest-put')
        return putManifest(r, ctx, repo!.repositoryName, repo!.imageTagMutability === 'IMMUTABLE');
      if (record.kind === 'mount') return mount(r, state, upstreamUrl);
      if (record.kind === 'upload' && r.req.method === 'PATCH') return patch(r, upstreamUrl);
      return false;
    },
  });
}
