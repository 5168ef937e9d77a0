// User regexes run off the main thread: a catastrophic pattern (`^(a+)+$`) against a hostile tag cannot block signal
// handling, and an abort (SIGINT/SIGTERM) terminates the worker in the middle of a match.
import type { Worker } from 'node:worker_threads';

// CommonJS evaluated in the worker (eval: true): test every tag against every pattern, one byte per answer.
const CODE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, patterns, tags }) => {
  try {
    const res = patterns.map(([source, flags]) => {
      const re = new RegExp(source, flags);
      const out = new Uint8Array(tags.length);
      for (let i = 0; i < tags.length; i++) { re.lastIndex = 0; out[i] = re.test(tags[i]) ? 1 : 0; }
      return out;
    });
    parentPort.postMessage({ id, res });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

interface Pending {
  resolve(res: Uint8Array[]): void;
  reject(err: unknown): void;
}

let worker: Worker | undefined;
let seq = 0;
const pending = new Map<number, Pending>();

function stopAll(err: unknown): void {
  const all = [...pending.values()];
  pending.clear();
  for (const p of all) p.reject(err);
}

async function getWorker(): Promise<Worker> {
  if (worker) return worker;
  const { Worker } = await import('node:worker_threads');
  if (worker) return worker;
  const w = new Worker(CODE, { eval: true });
  w.on('message', (m: { id: number; res?: Uint8Array[]; error?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.error !== undefined) p?.reject(new Error(m.error));
    else p?.resolve(m.res ?? []);
  });
  w.on('error', (err) => stopAll(err));
  w.on('exit', () => {
    if (worker === w) worker = undefined;
    stopAll(new Error('the regex worker stopped'));
  });
  worker = w;
  return w;
}

/**
 * For each pattern, a byte per tag: 1 where it matches. Runs in a worker thread; `signal` terminates the worker (and
 * rejects with its reason) even in the middle of a match that would not end.
 */
export async function testAll(
  patterns: readonly RegExp[],
  tags: readonly string[],
  signal?: AbortSignal,
): Promise<Uint8Array[]> {
  if (patterns.length === 0 || tags.length === 0) return patterns.map(() => new Uint8Array(tags.length));
  signal?.throwIfAborted();
  const w = await getWorker();
  const id = ++seq;
  return new Promise<Uint8Array[]>((resolve, reject) => {
    const onAbort = (): void => {
      if (worker === w) worker = undefined;
      stopAll(signal?.reason); // this request and any other on the same worker
      void w.terminate();
    };
    const done = () => signal?.removeEventListener('abort', onAbort);
    pending.set(id, {
      resolve: (r) => (done(), resolve(r)),
      reject: (e) => (done(), reject(e)),
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    w.ref();
    w.postMessage({ id, patterns: patterns.map((re) => [re.source, re.flags]), tags });
  });
}
