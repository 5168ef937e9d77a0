// An ECR stand-in on loopback: the ECR API over AWS JSON 1.1 (for the real @aws-sdk/client-ecr) plus a registry front.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEcrFront } from './ecr-front.js';
import {
  type EcrOp,
  type EcrRepository,
  type EcrState,
  EcrError,
  type OpContext,
  ops as defaultOps,
} from './ecr-ops.js';
import type { Front } from './front.js';
import { imageOps } from './ecr-image-ops.js';

export { ACCOUNT, EcrError, type EcrOp, type EcrRepository } from './ecr-ops.js';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';

export interface EcrCall {
  op: string;
  input: Record<string, unknown>;
  /** from the SigV4 Authorization header's credential scope */
  accessKeyId: string;
  region: string;
  service: string;
  status: number;
  errorType?: string;
  /** when the call arrived (ms since epoch) */
  at: number;
}

export interface EcrOptions {
  /** The plain registry (startRegistry) the front proxies to: `http://127.0.0.1:PORT`. */
  registryUrl: string;
  region?: string;
  /** Lifetime of GetAuthorizationToken tokens; default 12 h, as ECR. */
  tokenTtlSeconds?: number;
  /** The account's BLOB_MOUNTING setting at the start (default off). */
  blobMounting?: boolean;
  /** Repositories that exist from the start (as if created with defaults). */
  repositories?: Array<string | { name: string; immutable?: boolean }>;
  /** The backing registry's storage root (RegistryHandle.root): DescribeImages then lists untagged manifests too. */
  registryRoot?: string;
}

export interface EcrHandle {
  /** The ECR API endpoint, for the hosts config's `ecrEndpoint`: http://127.0.0.1:PORT */
  endpoint: string;
  /** The registry host to push to (the front): 127.0.0.1:PORT */
  host: string;
  region: string;
  front: Front;
  state: EcrState;
  /** The op table: add or replace operations here (DescribeImages, lifecycle policies, …). */
  ops: Record<string, EcrOp>;
  calls: EcrCall[];
  /** API calls so far, of one operation or all. */
  count(op?: string): number;
  /** The `hosts` entry that makes regctl treat the front as ECR (type, region, ecrEndpoint). */
  hostsEntry(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Fail the next `times` calls of `op` with an ECR error. */
  failNext(op: string, type: string, message: string, times?: number, status?: number): void;
  /** Say when an image was pushed (DescribeImages' imagePushedAt). */
  setPushedAt(repo: string, digest: string, at: Date): void;
  /** Invalidate every issued registry password (as if they had all expired). */
  revokeTokens(): void;
  setTokenTtl(seconds: number): void;
  /** The account's BLOB_MOUNTING setting (off unless a test enables it, as on a new account). */
  setBlobMounting(on: boolean): void;
  createRepository(name: string, opts?: { immutable?: boolean }): Promise<EcrRepository>;
  /** A registry password issued outside regctl, as `aws ecr get-login-password` prints it (not counted as a call). */
  loginPassword(): Promise<string>;
  stop(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  const doc = JSON.parse(text) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new EcrError('SerializationException', 'the body is not a JSON object');
  return doc as Record<string, unknown>;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
  });
  res.end(text);
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecr/aws4_request, SignedHeaders=…, Signature=…` */
function parseSigV4(header: string | undefined): { accessKeyId: string; region: string; service: string } | undefined {
  const m =
    /^AWS4-HMAC-SHA256\s+Credential=([^/\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=[^,]+,\s*Signature=[0-9a-f]{64}$/.exec(
      header ?? '',
    );
  return m ? { accessKeyId: m[1], region: m[2], service: m[3] } : undefined;
}

export async function startEcr(opts: EcrOptions): Promise<EcrHandle> {
  const state: EcrState = {
    region: opts.region ?? 'us-east-1',
    registryHost: '',
    repositories: new Map(),
    passwords: new Map(),
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 12 * 3600,
    pushedAt: new Map(),
    blobMounting: opts.blobMounting ?? false,
    ...(opts.registryRoot ? { registryRoot: opts.registryRoot } : {}),
  };
  const registry: OpContext['registry'] = (path, init) => fetch(new URL(path, opts.registryUrl), init);
  const ctx: OpContext = { state, registry };
  const ops: Record<string, EcrOp> = { ...defaultOps, ...imageOps };
  const calls: EcrCall[] = [];
  const faults: Array<{ op: string; type: string; message: string; left: number; status: number }> = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const sig = parseSigV4(req.headers.authorization);
    const call: EcrCall = {
      op,
      input: {},
      accessKeyId: sig?.accessKeyId ?? '',
      region: sig?.region ?? '',
      service: sig?.service ?? '',
      status: 0,
      at: Date.now(),
    };
    calls.push(call);
    try {
      if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/')
        throw new EcrError('UnknownOperationException', `${req.method} ${req.url}`, 404);
      if (!sig) throw new EcrError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
      if (sig.service !== 'ecr')
        throw new EcrError('InvalidSignatureException', `Credential should be scoped to correct service: 'ecr'`, 403);
      if (sig.region !== state.region)
        throw new EcrError(
          'InvalidSignatureException',
          `Credential should be scoped to a valid region, not '${sig.region}'`,
          403,
        );
      if (!String(req.headers['content-type'] ?? '').startsWith(CONTENT_TYPE))
        throw new EcrError('SerializationException', `content-type must be ${CONTENT_TYPE}`);
      const fn = op ? ops[op] : undefined;
      if (!fn) throw new EcrError('UnknownOperationException', `unknown operation ${target || '(no X-Amz-Target)'}`);
      call.input = await readJson(req);
      const fault = faults.find((f) => f.op === op && f.left > 0);
      if (fault) {
        fault.left--;
        throw new EcrError(fault.type, fault.message, fault.status);
      }
      const out = await fn(call.input, ctx);
      call.status = 200;
      answer(res, 200, out ?? {});
    } catch (err) {
      const e = err instanceof EcrError ? err : new EcrError('ServerException', (err as Error).message, 500);
      call.status = e.status;
      call.errorType = e.type;
      answer(res, e.status, { __type: e.type, message: e.message });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const front = await startEcrFront(state, ctx, opts.registryUrl);
  state.registryHost = front.host;

  const handleObj: EcrHandle = {
    endpoint,
    host: front.host,
    region: state.region,
    front,
    state,
    ops,
    calls,
    count: (op) => calls.filter((c) => op === undefined || c.op === op).length,
    hostsEntry: (extra = {}) => ({ type: 'ecr', region: state.region, ecrEndpoint: endpoint, ...extra }),
    failNext: (op, type, message, times = 1, status = 400) =>
      void faults.push({ op, type, message, left: times, status }),
    revokeTokens: () => state.passwords.clear(),
    setPushedAt: (repo, digest, at) => void state.pushedAt!.set(`${repo}@${digest}`, at),
    setTokenTtl: (seconds) => void (state.tokenTtlSeconds = seconds),
    async createRepository(name, o = {}) {
      await ops.CreateRepository(
        { repositoryName: name, imageTagMutability: o.immutable ? 'IMMUTABLE' : 'MUTABLE' },
        ctx,
      );
      return state.repositories.get(name)!;
    },
    async loginPassword() {
      const out = (await ops.GetAuthorizationToken({}, ctx)) as {
        authorizationData: Array<{ authorizationToken: string }>;
      };
      return Buffer.from(out.authorizationData[0].authorizationToken, 'base64').toString('utf8').replace(/^AWS:/, '');
    },
    setBlobMounting: (on) => void (state.blobMounting = on),
    async stop() {
      server.closeAllConnections();
      await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), front.stop()]);
    },
  };
  for (const r of opts.repositories ?? []) {
    const spec = typeof r === 'string' ? { name: r } : r;
    await handleObj.createRepository(spec.name, spec);
  }
  return handleObj;
}
