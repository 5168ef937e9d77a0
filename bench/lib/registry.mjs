// Local registries: Debian's `docker-registry` (CNCF distribution 2.x), loopback only.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { freePort, log, sleep } from './util.mjs';

const live = new Set();

/** Kill every registry still running (synchronous: usable from 'exit' handlers). */
export function killAllRegistriesSync() {
  for (const r of live) {
    try {
      r.proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  live.clear();
}

function configYaml(root, port) {
  return `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(root)}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
`;
}

/**
 * Starts a registry whose storage is `root` (created if missing) and whose config and log
 * go to `stateDir`. Returns { name, host, port, root, url, stop() }.
 */
export async function startRegistry({ name, root, stateDir, bin = 'docker-registry' }) {
  await fsp.mkdir(root, { recursive: true });
  await fsp.mkdir(stateDir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const cfg = path.join(stateDir, `${name}-registry.yml`);
    const logFile = path.join(stateDir, `${name}-registry.log`);
    await fsp.writeFile(cfg, configYaml(root, port));
    const out = fs.openSync(logFile, 'w');
    const proc = spawn(bin, ['serve', cfg], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const reg = {
      name,
      port,
      host: `127.0.0.1:${port}`,
      url: `http://127.0.0.1:${port}`,
      root,
      proc,
      exited: false,
      async stop() {
        live.delete(reg);
        if (reg.exited) return;
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await done;
        clearTimeout(t);
      },
    };
    proc.on('exit', () => {
      reg.exited = true;
    });
    proc.on('error', (e) => {
      reg.exited = true;
      reg.error = e;
    });
    live.add(reg);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !reg.exited) {
      try {
        const res = await fetch(`${reg.url}/v2/`);
        await res.arrayBuffer();
        if (res.status === 200) {
          log(`registry "${name}" up at ${reg.host} (storage ${root})`);
          return reg;
        }
      } catch {
        /* not listening yet */
      }
      await sleep(50);
    }
    await reg.stop();
    const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
    if (reg.error) throw new Error(`cannot start ${bin}: ${reg.error.message}`);
    if (attempt >= 2) throw new Error(`registry "${name}" did not come up on ${reg.host}:\n${tail}`);
    log(`registry "${name}" failed on port ${port}, retrying`);
  }
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** HEAD a manifest; returns its digest or null. */
export async function manifestDigest(reg, repo, ref) {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'HEAD', headers: { Accept: ACCEPT } });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

/**
 * Checks that repo:tag on `reg` is `digest` and that everything it names (child manifests,
 * config, layers) is present in that repository. Returns null if fine, else a message.
 */
export async function verifyImage(reg, repo, tag, digest) {
  const got = await manifestDigest(reg, repo, tag);
  if (got !== digest) return `${repo}:${tag} is ${got ?? 'missing'}, want ${digest}`;
  const check = async (d) => {
    const res = await fetch(`${reg.url}/v2/${repo}/manifests/${d}`, { headers: { Accept: ACCEPT } });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) return `manifest ${d}: HTTP ${res.status}`;
    if (`sha256:${createHash('sha256').update(body).digest('hex')}` !== d) return `manifest ${d}: bytes differ`;
    const m = JSON.parse(body.toString('utf8'));
    if (Array.isArray(m.manifests)) {
      for (const c of m.manifests) {
        const e = await check(c.digest);
        if (e) return e;
      }
      return null;
    }
    for (const b of [m.config, ...(m.layers ?? [])]) {
      const r = await fetch(`${reg.url}/v2/${repo}/blobs/${b.digest}`, { method: 'HEAD' });
      if (r.status !== 200) return `blob ${b.digest}: HTTP ${r.status}`;
      if (Number(r.headers.get('content-length')) !== b.size) return `blob ${b.digest}: wrong size`;
    }
    return null;
  };
  return check(digest);
}
