// RegistryError: an HTTP answer the caller did not expect, with the registry's error codes and a redacted URL.
import { type ErrorCode, type OciErrorCode, RegctlError } from '../errors.js';
import { redactText } from '../util/secrets.js';

export type { OciErrorCode };
import type { RateLimit } from './ratelimit.js';

export interface OciErrorEntry {
  /** As the registry sent it: usually an OciErrorCode, but registries add their own (GHCR's). */
  code: string;
  message?: string;
  detail?: unknown;
}

/** Removes credentials and signed query parameters from a URL before it is shown. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = u.username ? '***' : '';
      u.password = u.password ? '***' : '';
    }
    for (const key of [...u.searchParams.keys()]) {
      const secret = /sig|signature|token|credential|secret|password|key|auth|expires|policy|verify/i.test(key);
      if (secret) u.searchParams.set(key, '***');
    }
    return u.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return url.replace(/\?.*$/, '?***');
  }
}

// Free-text redaction is the logger's too: it lives beside the secrets it masks.
export { redactText };

export class RegistryError extends RegctlError {
  readonly status: number;
  readonly ociCodes: string[];
  readonly method: string;
  readonly url: string;
  readonly rateLimit?: RateLimit;

  constructor(opts: {
    status: number;
    method: string;
    url: string;
    errors?: OciErrorEntry[];
    what?: string;
    hint?: string;
    rateLimit?: RateLimit;
    bodyText?: string;
  }) {
    const errors = opts.errors ?? [];
    const codes = errors.map((e) => e.code).filter(Boolean);
    const detail = errors.length
      ? errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ')
      : opts.bodyText
        ? opts.bodyText.replace(/\s+/g, ' ').trim().slice(0, 200)
        : '';
    const what = opts.what ?? `${opts.method} ${redactUrl(opts.url)}`;
    // A registry may echo the request (headers, URL) in its error: never pass a credential on.
    const message = redactText(`${what}: ${statusText(opts.status)}${detail ? ` (${detail})` : ''}`);
    // A registry's own code outside the spec is kept as sent (shown by --json); OciErrorCode covers the ones we act on.
    const code = (codes[0] ?? `HTTP_${opts.status}`) as ErrorCode;
    super(code, message, { hint: opts.hint ?? defaultHint(opts.status, codes) });
    this.name = 'RegistryError';
    this.status = opts.status;
    this.ociCodes = codes;
    this.method = opts.method;
    this.url = redactUrl(opts.url);
    this.rateLimit = opts.rateLimit;
  }

  has(code: OciErrorCode): boolean {
    return this.ociCodes.includes(code);
  }
}

/** A RegistryError whose registry sent this code: the typed way, instead of casting and comparing strings. */
export function hasOciCode(err: unknown, code: OciErrorCode): err is RegistryError {
  return err instanceof RegistryError && err.has(code);
}

/** Whether an error body (parseErrorBody) carries this code. */
export function bodyHas(entries: readonly OciErrorEntry[], code: OciErrorCode): boolean {
  return entries.some((e) => e.code === code);
}

function statusText(status: number): string {
  const names: Record<number, string> = {
    400: 'bad request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not found',
    405: 'method not allowed',
    409: 'conflict',
    413: 'too large',
    416: 'range not satisfiable',
    429: 'too many requests',
    500: 'server error',
    502: 'bad gateway',
    503: 'service unavailable',
    504: 'gateway timeout',
  };
  return `${status} ${names[status] ?? 'unexpected status'}`;
}

function defaultHint(status: number, codes: string[]): string | undefined {
  const has = (code: OciErrorCode) => codes.includes(code);
  if (status === 401 || has('UNAUTHORIZED')) return 'log in with `regctl login HOST` or pass --creds USER:PASS';
  if (status === 403 || has('DENIED')) return 'the credentials lack access to this repository';
  if (status === 429 || has('TOOMANYREQUESTS')) return 'rate limited: wait, or log in to raise the limit';
  if (has('TAG_INVALID')) return 'the tag exists and the repository has immutable tags: push under a new tag';
  if (has('UNSUPPORTED') && status === 405) return 'the registry does not allow this operation';
  return undefined;
}

/**
 * What to do when a registry refuses a manifest DELETE (405 UNSUPPORTED). Docker Hub and GHCR always refuse it through
 * the registry API and delete their own way (distribution/distribution#1831, docker/hub-feedback#2360;
 * containers/skopeo#1880); a distribution registry refuses it until deletes are enabled.
 */
export function deletionHint(registry: string): string {
  if (registry === 'docker.io') {
    return (
      'Docker Hub does not delete through the registry API: delete the tag on hub.docker.com (repository → Tags) ' +
      'or with the Hub API (DELETE https://hub.docker.com/v2/namespaces/NAMESPACE/repositories/REPO/tags/TAG)'
    );
  }
  if (registry === 'ghcr.io') {
    return (
      'GHCR does not delete through the registry API: delete the package version on github.com (package settings) ' +
      'or with the GitHub Packages API (DELETE /user/packages/container/NAME/versions/ID, or /orgs/ORG/packages/…)'
    );
  }
  return 'the registry does not allow deletes (distribution: storage.delete.enabled)';
}

/** Parses a distribution error body `{errors:[{code,message,detail}]}` defensively. */
export function parseErrorBody(text: string): OciErrorEntry[] {
  try {
    const doc = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        code: typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : '',
        message: typeof e.message === 'string' ? e.message : undefined,
        detail: e.detail,
      }));
  } catch {
    return [];
  }
}
