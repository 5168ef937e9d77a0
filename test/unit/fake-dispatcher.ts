// A fake undici Dispatcher for unit tests of the request stages: it answers canned responses in order and records
// every request it was asked to send. Not a stand-in of any registry (those live in test/support/ and are real
// servers): each test scripts exactly the answers it is about.
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import type { Dispatcher } from 'undici';
import type { Credential } from '../../src/credentials/index.js';
import { Hosts } from '../../src/registry-client/hosts.js';
import { type HttpContext, type RetryInfo, newHttpContext } from '../../src/registry-client/http.js';

export type Canned =
  { status: number; headers?: Record<string, string>; body?: string; breakAfter?: string } | { error: string };

export interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Answers each dispatched request with the next canned answer (or a network error), in order. */
export class FakeDispatcher extends (DispatcherClass as unknown as new () => Dispatcher) {
  readonly seen: Seen[] = [];
  constructor(private readonly script: Canned[]) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = handler as unknown as Record<string, (...a: unknown[]) => unknown>;
    const headers: Record<string, string> = {};
    const raw = opts.headers as Record<string, string> | undefined;
    for (const [k, v] of Object.entries(raw ?? {})) headers[k.toLowerCase()] = String(v);
    this.seen.push({ method: opts.method, url: `${String(opts.origin)}${opts.path}`, headers });
    const next = this.script.shift() ?? { error: 'ECONNREFUSED' };
    setImmediate(() => {
      h.onConnect?.call(handler, () => {});
      if ('error' in next) {
        return h.onError.call(handler, Object.assign(new Error(`fake ${next.error}`), { code: next.error }));
      }
      const rawHeaders = Object.entries(next.headers ?? {}).flatMap(([k, v]) => [Buffer.from(k), Buffer.from(v)]);
      h.onHeaders.call(handler, next.status, rawHeaders, () => {}, '');
      if (next.body) h.onData.call(handler, Buffer.from(next.body));
      if (next.breakAfter !== undefined) {
        h.onData.call(handler, Buffer.from(next.breakAfter));
        const err = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
        return h.onError.call(handler, err);
      }
      h.onComplete.call(handler, []);
    });
    return true;
  }

  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}

/** An HttpContext for registry `reg.test` at `origin`, every request (registry, realm, CDN) sent to `fake`. */
export function fakeContext(
  fake: FakeDispatcher,
  opts: { origin?: string; retries?: number; cred?: Credential; maxRetryAfterMs?: number } = {},
): HttpContext & { retried: RetryInfo[]; lines: string[] } {
  const hosts = new Hosts({
    config: { hosts: { 'reg.test': { endpoint: opts.origin ?? 'https://reg.test' } } },
    plainHttp: false,
    insecure: false,
    connections: 1,
  });
  hosts.dispatcherFor = () => fake;
  const retried: RetryInfo[] = [];
  const lines: string[] = [];
  const ctx = newHttpContext({
    hosts,
    credentials: async () => opts.cred,
    retries: opts.retries ?? 3,
    maxRetryAfterMs: opts.maxRetryAfterMs ?? 120_000,
    userAgent: 'regctl-test',
    onRetry: (r) => retried.push(r),
    debug: (line) => lines.push(line),
  });
  return Object.assign(ctx, { retried, lines });
}
