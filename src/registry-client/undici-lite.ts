// undici's Pool and request API without the rest of its index (fetch, WebSocket, mocks), whose loading would cost
// start-up time (figures: bench/README.md, "Start-up tricks"). undici is pinned to an exact version in package.json:
// these private lib/ paths may move in any release, and test/unit/undici-private-paths.test.ts fails when they do.
import type { Dispatcher, Pool } from 'undici';
import apiRequest from 'undici/lib/api/api-request.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import PoolClass from 'undici/lib/dispatcher/pool.js';

// What undici's index.js does: its API methods live on Dispatcher.prototype. regctl uses request() only (not stream,
// pipeline, upgrade or connect, whose modules need not load).
if (!('request' in DispatcherClass.prototype)) Object.assign(DispatcherClass.prototype, { request: apiRequest });

export type { Dispatcher };

/**
 * One connection pool per origin, kept for the whole command: what undici's Agent does, without its dropping of an
 * origin's pool whenever the count of its connected sockets reaches zero. That count is kept by origin, not by pool,
 * so the sockets of a dropped pool, closing later, count down the pool that replaced it, which is dropped in turn:
 * measured on a 64-layer copy, one connection per blob GET instead of one per lane (a HEAD's socket, closed after the
 * answer as undici does, starts it). A dropped pool's idle connections are lost; on a real network each new one costs
 * a TCP and a TLS handshake. (The count was wrong in the other direction before: nodejs/undici#631.)
 */
class OriginPools extends DispatcherClass {
  private readonly pools = new Map<string, InstanceType<typeof PoolClass>>();

  constructor(private readonly options: Pool.Options) {
    super();
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = String(opts.origin);
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new PoolClass(origin, this.options);
      this.pools.set(origin, pool);
    }
    return pool.dispatch(opts, handler);
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }

  async destroy(err?: Error | null): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy(err ?? null)));
  }
}

/** A dispatcher keeping one pool per origin for its whole life (see OriginPools); `close()` ends them all. */
export function originPools(options: Pool.Options): Dispatcher {
  return new OriginPools(options) as unknown as Dispatcher;
}

/** `request(url, opts)` on a given dispatcher, as undici's top-level `request` does. */
export function request(
  url: URL | string,
  opts: Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher },
): Promise<Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = opts;
  return dispatcher.request({
    ...rest,
    origin: u.origin,
    path: `${u.pathname}${u.search}`,
    method: rest.method ?? 'GET',
  } as Dispatcher.RequestOptions);
}
