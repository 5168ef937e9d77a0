// Small helpers shared by the benchmark modules.
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');
export const WORK_DIR = path.join(BENCH_DIR, '.work');

export const KiB = 1024;
export const MiB = 1024 * KiB;

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function log(...args) {
  process.stderr.write(`[bench] ${args.join(' ')}\n`);
}

/** Split a command line on whitespace (no quoting): "node /x/bin/regctl" → ['node', '/x/bin/regctl']. */
export function splitCommand(s) {
  return s.trim().split(/\s+/).filter(Boolean);
}

export function fmtSec(ms) {
  return ms == null ? '-' : (ms / 1000).toFixed(3);
}

export function fmtMs(ms) {
  return ms == null ? '-' : `${ms.toFixed(1)} ms`;
}
