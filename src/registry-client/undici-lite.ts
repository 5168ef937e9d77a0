// undici's Agent and request API without the rest of its index (fetch, WebSocket, mocks), whose loading would cost
// start-up time (figures: bench/README.md, "Start-up tricks"). undici is pinned to an exact version in package.json:
// these private lib/ paths may move in any release, and test/unit/undici-private-paths.test.ts fails when they do.
import type { Dispatcher } from 'undici';
import apiRequest from 'undici/lib/api/api-request.js';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';

// What undici's index.js does: its API methods live on Dispatcher.prototype. regctl uses request() only (not stream,
// pipeline, upgrade or connect, whose modules need not load).
if (!('request' in DispatcherClass.prototype)) Object.assign(DispatcherClass.prototype, { request: apiRequest });

export const Agent = AgentClass;
export type { Dispatcher };

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
