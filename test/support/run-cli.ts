// Runs the built regctl binary (bin/regctl → dist/cli.js) as a child process with an isolated HOME.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killChild, makeTempDir, removeTempDir, trackChild } from './lifecycle.js';

export const REGCTL_BIN = fileURLToPath(new URL('../../bin/regctl', import.meta.url));

export interface CliOptions {
  /** extra environment; a value of undefined removes the variable */
  env?: Record<string, string | undefined>;
  /** written to stdin, then stdin is closed (closed at once without it) */
  input?: string;
  cwd?: string;
  /** kill (SIGKILL) and reject after this long; default 60 s */
  timeoutMs?: number;
}

export interface CliResult {
  code: number;
  /** the signal that ended the process, if any (then code is 128 + its number) */
  signal?: NodeJS.Signals;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  /** stdout / stderr so far */
  output(): { stdout: string; stderr: string };
  result: Promise<CliResult>;
}

/** Variables of the developer's shell that would change what the CLI does. */
export const SCRUB =
  /^(REGCTL_|DOCKER_|AWS_|REGISTRY_AUTH_FILE$|FORCE_COLOR$|HTTPS?_PROXY$|https?_proxy$|NO_PROXY$|no_proxy$|XDG_)/;

/**
 * Start `node bin/regctl ARGS`. HOME and DOCKER_CONFIG point at a fresh temp dir (removed when the process
 * ends) unless opts.env sets HOME (then DOCKER_CONFIG defaults to HOME/.docker); NO_COLOR=1, CI=true.
 */
export async function startCli(args: string[], opts: CliOptions = {}): Promise<CliProcess> {
  const given = opts.env ?? {};
  const tempHome = given.HOME === undefined ? await makeTempDir('home') : undefined;
  const home = given.HOME ?? tempHome!;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUB.test(k)) env[k] = v;
  Object.assign(env, {
    HOME: home,
    DOCKER_CONFIG: join(home, '.docker'),
    XDG_RUNTIME_DIR: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    NO_COLOR: '1',
    CI: 'true',
  });
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(process.execPath, [REGCTL_BIN, ...args], { cwd: opts.cwd, env, stdio: 'pipe' });
  trackChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {}); // the CLI may exit without reading stdin
  child.stdin.end(opts.input ?? '');
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const result = new Promise<CliResult>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void killChild(child, 0);
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const done = tempHome ? removeTempDir(tempHome) : Promise.resolve();
      void done.then(() => {
        if (timedOut) {
          reject(
            new Error(`regctl ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
          );
          return;
        }
        const sigCode = signal ? 128 + (constants.signals[signal] ?? 0) : 0;
        resolve({ code: code ?? sigCode, ...(signal ? { signal } : {}), stdout, stderr });
      }, reject);
    });
  });
  return { child, output: () => ({ stdout, stderr }), result };
}

/** Run `regctl ARGS` to completion: { code, stdout, stderr }. */
export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return (await startCli(args, opts)).result;
}
