// Spawns Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1 with a temp root: plain, htpasswd or token
// auth.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
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
  /** Serve HTTPS with this certificate and key (PEM files); `url` is then https://. */
  tls?: { certificate: string; key: string };
  /** storage.delete.enabled (default true); off, every manifest DELETE answers 405 UNSUPPORTED */
  deleteEnabled?: boolean;
}

export interface RegistryHandle {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http://127.0.0.1:PORT' ('https://…' with opts.tls) */
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
      delete: { enabled: opts.deleteEnabled ?? true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: 'regctl-test-secret',
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(opts.tls ? { tls: { certificate: opts.tls.certificate, key: opts.tls.key } } : {}),
    },
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

/** GET url with TLS verification off (the test CA is not in node's store): the status code. */
function insecureStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitReady(url: string, child: ChildProcess, logs: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`docker-registry exited during start-up:\n${logs()}`);
    try {
      if (url.startsWith('https:')) {
        const status = await insecureStatus(`${url}/v2/`);
        if (status === 200 || status === 401) return;
      } else {
        const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.status === 200 || res.status === 401) return;
      }
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline)
      throw new Error(`docker-registry did not answer ${url}/v2/ within ${timeoutMs} ms:\n${logs()}`);
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
  const child = spawn(REGISTRY_BIN, ['serve', configPath], {
    cwd: root,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
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

/**
 * The upload sessions still open in a registry's storage (their uuids): `_uploads/<uuid>` dirs holding `startedat`,
 * which is what distribution's Resume looks for. distribution 2.8 re-creates `hashstates/` right after it cancels a
 * session, so a dir without `startedat` is a cancelled session, not an open one. `repository`: only that one.
 */
export async function openUploads(reg: RegistryHandle, repository?: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      if (e.name === '_uploads') {
        for (const u of await readdir(join(dir, e.name))) {
          if ((await readdir(join(dir, e.name, u)).catch(() => [] as string[])).includes('startedat')) out.push(u);
        }
      } else if (!e.name.startsWith('_')) await walk(join(dir, e.name));
    }
  };
  await walk(join(reg.root, 'docker/registry/v2/repositories', ...(repository ? repository.split('/') : [])));
  return out;
}
