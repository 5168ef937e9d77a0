// Types for the parts of undici imported by path (see src/registry-client/undici-lite.ts).
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import type { EventEmitter } from 'node:events';
  /** undici's abstract Dispatcher: an EventEmitter whose subclasses implement dispatch, close and destroy. */
  const Dispatcher: (abstract new () => EventEmitter) & { prototype: object };
  export default Dispatcher;
}
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const PoolClass: typeof Pool;
  export default PoolClass;
}
declare module 'undici/lib/api/api-request.js' {
  const request: (...args: unknown[]) => unknown;
  export default request;
}
