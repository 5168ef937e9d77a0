// Spawns Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1 with a temp root: plain, htpasswd or token auth.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort } from './ports.js';
import { killChild, makeTempDir, removeTempDir, trackChild } from './lifecycle.js';

export { httpJson, registryDigest, registryFetch } from './http.js';

export const REGISTRY_BIN = process.env.REGCTL_TEST_REGISTRY_BIN ?? 'docker-registry';

export interface TokenAuthConfig {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file with the certificate(s) whose keys sign tokens. */
  rootCertBundle: string;
}

export interface RegistryOptions {
  mode?: 'plain' | 'htpasswd' | 'token';
  /** htpasswd mode: user → password. Default { testuser: 'testpass' }. */
  users?: Record<string, string>;
  /** token mode: where clients get tokens (a TokenServerHandle fits). */
  token?: TokenAuthConfig;
  /** Accept schema1 (v2s1) manifest pushes (distribution's compatibility.schema1.enabled); default false. */
  schema1?: boolean;
  /** Log level of the registry (default 'warn'); its stderr is kept in logs(). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface RegistryHandle {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http://127.0.0.1:PORT' */
  url: string;
  /** storage root directory (filesystem driver) */
  root: string;
  mode: 'plain' | 'htpasswd' | 'token';
  /** What the registry wrote to stdout/stderr so far (tail, ≤ 256 KiB). */
  logs(): string;
  stop(): Promise<void>;
}

const LOG_CAP = 256 * 1024;

function buildConfig(port: number, root: string, opts: RegistryOptions, htpasswdPath: string): object {
  const auth: Record<string, unknown> = {};
  if (opts.mode === 'htpasswd') auth.htpasswd = { realm: 'regctl-test', path: htpasswdPath };
  if (opts.mode === 'token') {
    const t = opts.token;
    if (!t) throw new Error("startRegistry: mode 'token' needs opts.token (e.g. a startTokenServer() handle)");
    auth.token = { realm: t.realm, service: t.service, issuer: t.issuer, rootcertbundle: t.rootCertBundle };
  }
  return {
    version: '0.1',
    log: { level: opts.logLevel ?? 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(root, 'data') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: 'regctl-test-secret', headers: { 'X-Content-Type-Options': ['nosniff'] } },
    health: { storagedriver: { enabled: false } },
    ...(opts.schema1 ? { compatibility: { schema1: { enabled: true } } } : {}),
    ...(Object.keys(auth).length ? { auth } : {}),
  };
}

/** The environment without REGISTRY_* variables, which distribution would read as config overrides. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

async function waitReady(url: string, child: ChildProcess, logs: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`docker-registry exited during start-up:\n${logs()}`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer ${url}/v2/ within ${timeoutMs} ms:\n${logs()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function startOnce(opts: RegistryOptions): Promise<RegistryHandle> {
  const mode = opts.mode ?? 'plain';
  const root = await makeTempDir('registry');
  const port = await freePort();
  const htpasswdPath = join(root, 'htpasswd');
  if (mode === 'htpasswd') {
    const users = opts.users ?? { testuser: 'testpass' };
    const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`);
    await writeFile(htpasswdPath, `${lines.join('\n')}\n`);
  }
  const configPath = join(root, 'config.yml');
  // JSON is YAML: no serializer needed.
  await writeFile(configPath, JSON.stringify(buildConfig(port, root, { ...opts, mode }, htpasswdPath), null, 2));

  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_CAP) log = log.slice(-LOG_CAP);
  };
  const child = spawn(REGISTRY_BIN, ['serve', configPath], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await killChild(child);
    await removeTempDir(root);
  };
  try {
    await Promise.race([waitReady(url, child, () => log, 15_000), spawnError]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: `127.0.0.1:${port}`, url, root: join(root, 'data'), mode, logs: () => log, stop };
}

/** Start a registry; retried on the rare port race with another process. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RegistryHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test(String(err))) throw err;
    }
  }
}
