// The library's AppContext: built per call from plain options, silent unless the caller hands a logger, closed after.
import { Writable } from 'node:stream';
import type { AppContext, GlobalOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { fromFsError } from '../util/fs-errors.js';
import type { Logger } from '../util/log.js';
import { DEFAULT_JOBS, DEFAULT_LIGHT_JOBS } from '../copy/pool.js';

export interface Credentials {
  username: string;
  password: string;
}

/** Options every library call takes; each mirrors a global flag of the CLI. */
export interface CommonOptions {
  /**
   * One credential for every registry (`--creds`), or one per side (`--src-creds` / `--dest-creds`). Without it (or
   * for a side left out) the default chain answers: ECR, $REGISTRY_AUTH, the Docker config, the OS keychain.
   */
  credentials?: Credentials | { source?: Credentials; destination?: Credentials };
  /**
   * Concurrent blob transfers (at most 64). Default: 8, and up to 16 while the blobs are under 4 MiB; a `jobs` given
   * caps them all.
   */
  jobs?: number;
  /** Retries for failed requests (default 3). */
  retries?: number;
  /** Give up on a connection or a stalled response after this many milliseconds. */
  timeoutMs?: number;
  plainHttp?: boolean;
  insecure?: boolean;
  /** Cancels the call: it rejects with the signal's reason and leaves nothing half-written. */
  signal?: AbortSignal;
  /** Where credential helpers, Docker config and $REGCTL_CONFIG are looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The library prints nothing; messages the CLI would print on stderr go here, if given. */
  logger?: Partial<Logger>;
}

const discard = () => new Writable({ write: (_chunk, _enc, done) => done() });

function userPass(c: Credentials | undefined, what: string): string | undefined {
  if (c === undefined) return undefined;
  if (typeof c.username !== 'string' || typeof c.password !== 'string') {
    throw new UsageError(`${what}: expected { username, password } strings`);
  }
  if (c.username.includes(':')) throw new UsageError(`${what}: a username cannot hold ':'`);
  return `${c.username}:${c.password}`;
}

function wholeNumber(v: number | undefined, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`${name} takes a whole number from ${min} to ${max}`);
  }
  return v;
}

export function globalsOf(o: CommonOptions): GlobalOptions {
  const c = o.credentials;
  const perSide = c !== undefined && !('username' in c);
  return {
    jobs: wholeNumber(o.jobs, 'jobs', 1, 64, DEFAULT_JOBS),
    // `jobs` given caps every transfer; without it small blobs get more lanes (as the CLI's --jobs).
    lightJobs: o.jobs !== undefined ? wholeNumber(o.jobs, 'jobs', 1, 64, DEFAULT_JOBS) : DEFAULT_LIGHT_JOBS,
    ...(c && !perSide ? { creds: userPass(c, 'credentials') } : {}),
    ...(perSide && c.source ? { srcCreds: userPass(c.source, 'credentials.source') } : {}),
    ...(perSide && c.destination ? { destCreds: userPass(c.destination, 'credentials.destination') } : {}),
    plainHttp: Boolean(o.plainHttp),
    insecure: Boolean(o.insecure),
    retries: wholeNumber(o.retries, 'retries', 0, 20, 3),
    ...(o.timeoutMs !== undefined ? { timeout: wholeNumber(o.timeoutMs, 'timeoutMs', 1, 86_400_000, 0) } : {}),
    json: false,
    quiet: true,
    debug: false,
    createRepo: true,
  };
}

/** A logger that says nothing, or forwards to what the caller gave. */
export function silentLogger(given: Partial<Logger> = {}): Logger {
  const none = () => {};
  return {
    info: given.info?.bind(given) ?? none,
    warn: given.warn?.bind(given) ?? none,
    debug: given.debug?.bind(given) ?? none,
  };
}

/** Runs `fn` with a context of its own (no output: io discards, the logger is silent) and closes it after. */
export async function withContext<T>(o: CommonOptions, fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  const globals = globalsOf(o);
  const signal = o.signal ?? new AbortController().signal;
  signal.throwIfAborted();
  const { createContext } = await import('../app-context.js');
  const io = { stdout: discard(), stderr: discard(), isTTY: false, color: false };
  const ctx = createContext(io, o.env ?? process.env, globals, silentLogger(o.logger), signal);
  try {
    return await fn(ctx);
  } catch (err) {
    // As the CLI maps them before printing: a file system error becomes a RegctlError with its FS_ code.
    throw fromFsError(err) ?? err;
  } finally {
    await ctx.close();
  }
}
