// Request stage: error mapping. An answer outside `expect` becomes a RegistryError (permission denied told apart
// from a failed login, the registry's error codes from a capped body read, a rate-limit hint); a network error
// becomes one NETWORK line naming the request.
import { RegctlError, isAbortError } from '../errors.js';
import { RegistryError, parseErrorBody } from './errors.js';
import { permissionDenied } from './grants.js';
import { connectError } from './hosts.js';
import { type Answer, type HttpContext, type RegRequest, type RegResponse, describe, header } from './http.js';
import { retryAfterOf } from './http-retry.js';
import { throttleHint } from './ratelimit.js';
import { readErrorText } from './read.js';

export async function mapErrors(ctx: HttpContext, req: RegRequest, next: () => Promise<Answer>): Promise<RegResponse> {
  let answer: Answer;
  try {
    answer = await next();
  } catch (err) {
    if (isAbortError(err) || err instanceof RegctlError) throw err;
    throw connectError(req.registry, err, ctx.hosts.opts.timeoutMs, req.what);
  }
  const { res, auth, waitTooLong } = answer;
  if (waitTooLong !== undefined) {
    await res.body.dump().catch(() => {});
    const hint = throttleHint(res.rateLimit, waitTooLong);
    const { status, url, rateLimit } = res;
    throw new RegistryError({ status, method: req.method, url, what: describe(req), rateLimit, hint });
  }
  if (req.expect.includes(res.status)) return res;
  const text = req.method === 'HEAD' ? '' : await readErrorText(res.body).catch(() => '');
  if (req.method === 'HEAD') await res.body.dump().catch(() => {});
  // Valid credentials without the right (a 403, or a token granted less than asked) are not a failed login.
  const challenge = header(res.headers, 'www-authenticate');
  const denied = permissionDenied(ctx, req, { status: res.status, url: res.url, challenge, bodyText: text }, auth);
  if (denied) throw denied;
  throw new RegistryError({
    status: res.status,
    method: req.method,
    url: res.url,
    what: describe(req),
    errors: parseErrorBody(text),
    bodyText: text.startsWith('{') ? undefined : text,
    rateLimit: res.rateLimit,
    hint: res.status === 429 ? throttleHint(res.rateLimit, retryAfterOf(res)) : undefined,
  });
}
