// A private Docker daemon (Debian's dockerd 20.10, vfs, no networking) for one test file, and its docker CLI.
//
// API (kept stable: other branches build on it)
//   dockerMissing: string | undefined     why docker tests cannot run here (no dockerd, docker CLI, static busybox,
//                                          or not root; undefined: they can)
//   describeDocker(name, fn)               describe() whose suite fails at once, saying why, when dockerMissing: the
//                                          interop tests are never skipped (README's set-up installs docker.io)
//   startDocker(opts?): DockerHandle       start dockerd as root: temp --data-root/--exec-root/--pidfile, a unix socket
//                                          (no TCP), --storage-driver vfs --iptables=false --ip6tables=false
//                                          --bridge=none; resolves once `docker version` answers. Call in beforeAll,
//                                          `await d?.stop()` in afterAll (stops dockerd and its containerd, removes
//                                          every temp dir; idempotent; also run at process exit as a safety net).
//   DockerHandle
//     .host         'unix:///tmp/regctl-dk-XXXXXX/d.sock' (DOCKER_HOST)
//     .configDir    the CLI's private DOCKER_CONFIG dir (config.json of `docker login` lands here)
//     .dir          a scratch dir of this daemon (removed by stop), for contexts and tars
//     .env          { DOCKER_HOST, DOCKER_CONFIG, DOCKER_BUILDKIT: '0' } to give other processes (e.g. runCli)
//     .version      the daemon's version, e.g. '20.10.24+dfsg1'
//     .docker(args, opts?)  run the docker CLI: { code, stdout, stdoutBytes, stderr }; rejects on a non-zero
//                   exit unless opts.reject === false. opts: input (stdin), env (merged; undefined removes),
//                   cwd, timeoutMs.
//     .inspectImage(ref)    `docker image inspect` parsed (the one object), or undefined when there is no such image
//     .logs()       dockerd's output so far (tail)
//     .stop()
//   Image fixtures (busybox from Debian's static /bin/busybox): see ./busybox.ts, re-exported here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';
import { BUSYBOX_BIN } from './busybox.js';
import { atCleanup, killChild, makeTempDir, removeTempDir, trackChild } from './lifecycle.js';

export * from './busybox.js';

const SBIN_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The first executable `name` on PATH or in the sbin/bin dirs (dockerd lives in /usr/sbin, often off PATH). */
function findExecutable(name: string, prefer: string[] = []): string | undefined {
  const dirs = [...prefer, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_PATH];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const DOCKERD_BIN = process.env.REGCTL_TEST_DOCKERD_BIN ?? findExecutable('dockerd');
/**
 * The CLI of the daemon's own package (/usr/bin/docker of docker.io) before any other `docker` on PATH: a newer CLI
 * would negotiate down, but the tests should speak what the daemon's release speaks.
 */
export const DOCKER_BIN = process.env.REGCTL_TEST_DOCKER_BIN ?? findExecutable('docker', ['/usr/bin']);

function whyMissing(): string | undefined {
  if (process.platform !== 'linux') return 'dockerd tests need Linux';
  const runnable = (p: string | undefined): boolean => {
    try {
      accessSync(p ?? '', fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const at = (p: string | undefined): string => (p ? ` at ${p}` : '');
  const apt = '(Debian: apt-get install docker.io)';
  if (!runnable(DOCKERD_BIN)) return `dockerd is not installed${at(DOCKERD_BIN)} ${apt}`;
  if (!runnable(DOCKER_BIN)) return `the docker CLI is not installed${at(DOCKER_BIN)} ${apt}`;
  if (process.getuid?.() !== 0) return 'dockerd needs root (run the tests as root)';
  if (!runnable(BUSYBOX_BIN)) {
    return `no static busybox at ${BUSYBOX_BIN} for the image fixtures (Debian: apt-get install busybox-static)`;
  }
  return undefined;
}

export const dockerMissing: string | undefined = whyMissing();
/** describe() for tests that need a daemon; where none can start, its suite fails at once saying why (not skipped). */
export function describeDocker(name: string, fn: () => void): void {
  if (dockerMissing) {
    const why = dockerMissing;
    describe(name, () => {
      it('needs Docker Engine', () => {
        throw new Error(`the docker interop tests cannot run here: ${why}`);
      });
    });
  } else describe(name, fn);
}

export interface DockerResult {
  code: number;
  stdout: string;
  /** stdout as bytes (`docker export`, `docker save` without -o) */
  stdoutBytes: Buffer;
  stderr: string;
}

export interface DockerRunOptions {
  input?: string | Buffer;
  /** merged over the handle's env; a value of undefined removes the variable */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** default true: a non-zero exit rejects with the command and its stderr */
  reject?: boolean;
  /** SIGKILL and reject after this long; default 120 s */
  timeoutMs?: number;
}

export interface DockerHandle {
  host: string;
  configDir: string;
  dir: string;
  env: Record<string, string>;
  version: string;
  docker(args: string[], opts?: DockerRunOptions): Promise<DockerResult>;
  inspectImage(ref: string): Promise<ImageInspect | undefined>;
  logs(): string;
  stop(): Promise<void>;
}

/** The parts of `docker image inspect` the tests read. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Architecture: string;
  Os: string;
  Config: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
  };
  RootFS: { Type: string; Layers?: string[] };
}

export interface DockerOptions {
  /** extra dockerd flags */
  args?: string[];
  /** dockerd start-up limit; default 90 s (2 cores shared by many test processes) */
  timeoutMs?: number;
}

const LOG_CAP = 256 * 1024;
// sun_path holds 108 bytes with its NUL; keep a margin.
const SOCKET_PATH_MAX = 100;

const SCRUB = /^(DOCKER_|BUILDKIT_|HTTPS?_PROXY$|https?_proxy$|NO_PROXY$|no_proxy$|ALL_PROXY$)/;

/** The environment of a docker process: no DOCKER_*, proxy or BUILDKIT settings of the developer's shell. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !SCRUB.test(k)) env[k] = v;
  }
  const path = (env.PATH ?? '').split(delimiter).filter(Boolean);
  env.PATH = [...path, ...SBIN_PATH.filter((d) => !path.includes(d))].join(delimiter);
  return env;
}

function runProcess(
  bin: string,
  args: string[],
  env: Record<string, string>,
  opts: DockerRunOptions,
): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: opts.cwd, env, stdio: 'pipe' });
    trackChild(child);
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const cmd = `${bin} ${args.join(' ')}`;
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      if (timedOut) return reject(new Error(`${cmd} timed out after ${timeoutMs} ms\nstderr: ${stderr}`));
      const result = { code: code ?? 128, stdout, stdoutBytes, stderr };
      if (result.code !== 0 && opts.reject !== false) {
        return reject(new Error(`${cmd} exited ${code ?? signal}\nstdout: ${stdout}\nstderr: ${stderr}`));
      }
      resolve(result);
    });
  });
}

/** GET /_ping on the daemon's socket: true once it answers 200. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Mount points at or under `dir` (a container's netns bind mount, should one be left), deepest first. */
function mountsUnder(dir: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4]?.replace(/\\040/g, ' ')).filter((p): p is string => !!p);
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readPid(path: string): Promise<number | undefined> {
  const n = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  return Number.isInteger(n) && n > 1 ? n : undefined;
}

export async function startDocker(opts: DockerOptions = {}): Promise<DockerHandle> {
  if (dockerMissing) throw new Error(`startDocker: ${dockerMissing}`);
  const dir = await makeTempDir('dk');
  const socket = join(dir, 'd.sock');
  if (socket.length > SOCKET_PATH_MAX) {
    await removeTempDir(dir);
    throw new Error(`startDocker: socket path ${socket} is too long for a unix socket; set a shorter TMPDIR`);
  }
  const configDir = join(dir, 'cfg');
  const scratch = join(dir, 'w');
  const execRoot = join(dir, 'x');
  await Promise.all([mkdir(configDir, { mode: 0o700 }), mkdir(scratch)]);
  // Its own (empty) daemon.json: /etc/docker/daemon.json of the machine must not apply.
  await writeFile(join(dir, 'daemon.json'), '{}');
  const args = [
    '--config-file',
    join(dir, 'daemon.json'),
    '--storage-driver',
    'vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--userland-proxy=false',
    '--data-root',
    join(dir, 'r'),
    '--exec-root',
    execRoot,
    '--pidfile',
    join(dir, 'd.pid'),
    '--shutdown-timeout',
    '5',
    '-H',
    `unix://${socket}`,
    ...(opts.args ?? []),
  ];
  const daemonEnv = baseEnv();
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_CAP) log = log.slice(-LOG_CAP);
  };
  // Through util-linux's setpriv (it execs, so the pid is dockerd's): dockerd gets SIGKILL should this test process
  // die without any cleanup (SIGKILL, OOM); its containerd follows it (Pdeathsig).
  const setpriv = findExecutable('setpriv');
  const [bin, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', DOCKERD_BIN!, ...args]] : [DOCKERD_BIN!, args];
  const child: ChildProcess = spawn(bin, argv, { cwd: dir, env: daemonEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', (err) => append(Buffer.from(`spawn error: ${err.message}\n`)));

  // Safety net when stop() never ran (the process exits or is signalled): SIGKILL dockerd (its containerd dies with
  // it: dockerd 20.10 starts it with Pdeathsig), then unmount what it left (it bind-mounts its --data-root on
  // itself) so that lifecycle can remove the dir.
  const cancelSafetyNet = atCleanup(() => {
    if (!exited) child.kill('SIGKILL');
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // dockerd stops its containers and its containerd on SIGTERM; containerd is killed by pid if it outlives it.
      const containerdPid = await readPid(join(execRoot, 'containerd', 'containerd.pid'));
      await killChild(child, 20_000);
      if (containerdPid && pidAlive(containerdPid)) {
        process.kill(containerdPid, 'SIGTERM');
        for (let i = 0; i < 50 && pidAlive(containerdPid); i++) await new Promise((r) => setTimeout(r, 100));
        if (pidAlive(containerdPid)) process.kill(containerdPid, 'SIGKILL');
      }
      for (const m of mountsUnder(dir)) await runProcess('umount', ['-l', m], daemonEnv, { reject: false });
      cancelSafetyNet();
      await removeTempDir(dir);
    })());

  const env: Record<string, string> = {
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: configDir,
    DOCKER_BUILDKIT: '0',
  };
  const docker = (cliArgs: string[], o: DockerRunOptions = {}): Promise<DockerResult> => {
    const merged: Record<string, string> = { ...baseEnv(), ...env };
    for (const [k, v] of Object.entries(o.env ?? {})) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    return runProcess(DOCKER_BIN!, cliArgs, merged, o);
  };

  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
    for (;;) {
      if (exited) throw new Error(`dockerd (in ${dir}) exited during start-up:\n${log}`);
      if (await ping(socket)) break;
      if (Date.now() > deadline) throw new Error(`dockerd (in ${dir}) did not answer on ${socket} in time:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const version = (await docker(['version', '--format', '{{.Server.Version}}'])).stdout.trim();
    const inspectImage = async (ref: string): Promise<ImageInspect | undefined> => {
      const r = await docker(['image', 'inspect', ref], { reject: false });
      if (r.code !== 0) return undefined;
      return (JSON.parse(r.stdout) as ImageInspect[])[0];
    };
    const host = env.DOCKER_HOST;
    return { host, configDir, dir: scratch, env, version, docker, inspectImage, logs: () => log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
