// Safety net for test servers: child processes and temp dirs are removed when the test process ends.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const hooks = new Set<() => void>();
let installed = false;

function cleanupNow(): void {
  for (const hook of hooks) {
    try {
      hook();
    } catch {
      /* the rest still runs */
    }
  }
  hooks.clear();
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* e.g. a mount point left busy: the other dirs still go */
    }
  }
  dirs.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  cleanupNow();
  process.removeListener(sig, onSignal);
  // We were the only listener: keep the default behaviour of the signal (terminate).
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

/**
 * Run `fn` (synchronous) first when the test process ends before it was cancelled, ahead of the child kills and
 * dir removals (e.g. unmounting what a daemon left mounted in its dir). Returns the cancel function.
 */
export function atCleanup(fn: () => void): () => void {
  install();
  hooks.add(fn);
  return () => hooks.delete(fn);
}

/** Kill this child (SIGKILL) if the test process exits before it was stopped. */
export function trackChild(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function untrackChild(child: ChildProcess): void {
  children.delete(child);
}

/** A fresh temp dir, removed at process exit unless removed earlier with removeTempDir. */
export async function makeTempDir(prefix: string): Promise<string> {
  install();
  const dir = await mkdtemp(join(tmpdir(), `regctl-${prefix}-`));
  dirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  dirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/** Ask a child to stop (SIGTERM), SIGKILL after graceMs; resolves once it has exited. */
export async function killChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  untrackChild(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
