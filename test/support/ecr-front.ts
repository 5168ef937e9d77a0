// ECR's registry behaviour in front of a plain registry: Basic `AWS:<token>`, NAME_UNKNOWN for uncreated repositories, TAG_INVALID.
import { createHash } from 'node:crypto';
import { ACCOUNT, type EcrState, type OpContext, resolveImage } from './ecr-ops.js';
import { type Front, type FrontRequest, sendRegistryError, startFront } from './front.js';

export interface EcrFrontOptions {
  /** Complete a blob on its PATCH and answer 201 (no PUT needed), as ECR sometimes does; asked per PATCH. */
  completeOnPatch?: () => boolean;
}

/** The password a request carries, when it is `Basic AWS:<password>`. */
function awsPassword(header: string | undefined): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  return decoded.startsWith('AWS:') ? decoded.slice(4) : undefined;
}

function authorized(state: EcrState, header: string | undefined): boolean {
  const password = awsPassword(header);
  const expiresAt = password === undefined ? undefined : state.passwords.get(password);
  return expiresAt !== undefined && expiresAt > Date.now();
}

const isDigestRef = (ref: string | undefined) => ref !== undefined && /^[a-z0-9]+:[a-f0-9]{32,}$/.test(ref);

async function tagInvalid(r: FrontRequest, ctx: OpContext, repo: string, tag: string): Promise<boolean> {
  const body = await r.readBody();
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const current = await resolveImage(ctx, repo, tag);
  if (current && current !== digest) {
    sendRegistryError(
      r,
      400,
      'TAG_INVALID',
      `The image tag '${tag}' already exists in the '${repo}' repository and cannot be overwritten because the repository is immutable.`,
    );
    return true;
  }
  await r.forward(body);
  return true;
}

/** One streamed PATCH that ECR completes itself: proxy the PATCH, then PUT ?digest= upstream, answer 201. */
async function patchAndComplete(r: FrontRequest, upstreamUrl: string): Promise<boolean> {
  const body = await r.readBody();
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length), host: r.req.headers.host ?? '' };
  const patch = await fetch(new URL(r.req.url ?? '/', upstreamUrl), { method: 'PATCH', headers, body });
  await patch.arrayBuffer();
  if (patch.status !== 202) {
    r.record.status = patch.status;
    r.record.local = true;
    r.res.writeHead(patch.status, { 'content-length': '0' }).end();
    return true;
  }
  const next = new URL(patch.headers.get('location') ?? '', upstreamUrl);
  next.searchParams.set('digest', digest);
  const put = await fetch(new URL(`${next.pathname}${next.search}`, upstreamUrl), { method: 'PUT', headers: { 'content-length': '0' } });
  await put.arrayBuffer();
  r.record.status = put.status;
  r.record.local = true;
  r.res.writeHead(put.status, { location: `/v2/${r.record.repo}/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': '0' }).end();
  return true;
}

export async function startEcrFront(state: EcrState, ctx: OpContext, upstreamUrl: string, opts: EcrFrontOptions = {}): Promise<Front> {
  return startFront(upstreamUrl, {
    async intercept(r) {
      const { record } = r;
      if (!authorized(state, r.req.headers.authorization)) {
        await r.readBody().catch(() => Buffer.alloc(0));
        sendRegistryError(r, 401, 'UNAUTHORIZED', 'Not Authorized', {
          'www-authenticate': `Basic realm="https://${state.registryHost}/",service="ecr.amazonaws.com"`,
        });
        return true;
      }
      if (record.kind === 'catalog') {
        sendRegistryError(r, 405, 'UNSUPPORTED', 'The operation is unsupported.');
        return true;
      }
      if (record.repo !== undefined && !state.repositories.has(record.repo)) {
        await r.readBody().catch(() => Buffer.alloc(0));
        sendRegistryError(r, 404, 'NAME_UNKNOWN', `The repository with name '${record.repo}' does not exist in the registry with id '${ACCOUNT}'`, {}, { name: record.repo });
        return true;
      }
      const repo = record.repo ? state.repositories.get(record.repo) : undefined;
      if (record.kind === 'manifest-put' && repo?.imageTagMutability === 'IMMUTABLE' && !isDigestRef(record.ref)) {
        return tagInvalid(r, ctx, repo.repositoryName, record.ref!);
      }
      if (record.kind === 'upload' && r.req.method === 'PATCH' && opts.completeOnPatch?.()) return patchAndComplete(r, upstreamUrl);
      return false;
    },
  });
}
