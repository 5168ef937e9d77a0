// A classic `docker save` archive (uncompressed layer) of real files: a few hundred MiB of this machine's own /usr —
// headers and Python sources (text), executables and shared libraries, and files already compressed (man pages and
// changelogs .gz, .jar, locale .mo) — the mix a real layer holds. One layer, so a push must compress one large blob.
// The files are chosen by a fixed walk (sorted names, a budget per tree); the archive is cached under
// bench/.work/images/usr-KEY (KEY hashes the chosen paths, sizes and mtimes: it is rebuilt when /usr changes).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { MiB, WORK_DIR, log } from './util.mjs';

/** Trees of /usr and how many bytes of each (sorted walk, whole files until the budget is spent). */
const TREES = [
  ['usr/include', 60 * MiB],
  ['usr/bin', 70 * MiB],
  ['usr/lib/x86_64-linux-gnu', 80 * MiB],
  ['usr/lib/python3.11', 30 * MiB],
  ['usr/share/doc', 25 * MiB],
  ['usr/share/man', 20 * MiB],
  ['usr/share/locale', 20 * MiB],
  ['usr/lib/jvm', 20 * MiB],
];
const MAX_FILE = 32 * MiB;

function pick(rel, budget, out) {
  let left = budget;
  const walk = (dir) => {
    let names;
    try {
      names = fs.readdirSync(path.join('/', dir)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (left <= 0) return;
      const r = `${dir}/${n}`;
      let st;
      try {
        st = fs.lstatSync(path.join('/', r));
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) out.push({ r, size: 0, mtime: 0 });
      else if (st.isFile() && st.size <= MAX_FILE && st.size <= left) {
        try {
          fs.accessSync(path.join('/', r), fs.constants.R_OK);
        } catch {
          continue;
        }
        out.push({ r, size: st.size, mtime: Math.floor(st.mtimeMs) });
        left -= st.size;
      }
    }
  };
  walk(rel);
}

/** Returns { file, tag, repo, bytes, files }: the archive, built on first use. */
export async function ensureUsrArchive() {
  const chosen = [];
  for (const [tree, budget] of TREES) pick(tree, budget, chosen);
  const bytes = chosen.reduce((a, f) => a + f.size, 0);
  const key = crypto.createHash('sha256').update(JSON.stringify(chosen)).digest('hex').slice(0, 12);
  const dir = path.join(WORK_DIR, 'images', `usr-${key}`);
  const file = path.join(dir, 'archive.tar');
  const info = { file, repo: 'bench/usr', tag: 'v1', bytes, files: chosen.length };
  if (fs.existsSync(file)) return info;
  log(`building the /usr fixture (${chosen.length} files, ${(bytes / MiB).toFixed(0)} MiB) in ${dir}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(path.join(tmp, 'layer'), { recursive: true });
  try {
    const list = path.join(tmp, 'files.txt');
    await fsp.writeFile(list, chosen.map((f) => f.r).join('\n') + '\n');
    const layer = path.join(tmp, 'layer', 'layer.tar');
    const tarOpts = ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu'];
    const files = ['--no-recursion', '--files-from', list];
    execFileSync('tar', ['--create', '--file', layer, '--directory', '/', ...files, ...tarOpts]);
    const hash = crypto.createHash('sha256');
    for await (const c of fs.createReadStream(layer, { highWaterMark: 4 * MiB })) hash.update(c);
    const diffId = `sha256:${hash.digest('hex')}`;
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'bench: files of /usr' }],
    });
    const configName = `${crypto.createHash('sha256').update(config).digest('hex')}.json`;
    await fsp.writeFile(path.join(tmp, configName), config);
    const manifest = [{ Config: configName, RepoTags: [`${info.repo}:${info.tag}`], Layers: ['layer/layer.tar'] }];
    await fsp.writeFile(path.join(tmp, 'manifest.json'), JSON.stringify(manifest));
    const out = path.join(tmp, 'archive.tar');
    const members = ['manifest.json', configName, 'layer/layer.tar'];
    execFileSync('tar', ['--create', '--file', out, '--directory', tmp, ...members, ...tarOpts]);
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(dir, { recursive: true });
    await fsp.rename(out, file);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  return info;
}
