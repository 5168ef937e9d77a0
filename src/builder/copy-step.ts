// COPY and ADD steps: flags, sources (context, --from stage or image, local archives for ADD), owners, one layer each.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { UsageError } from '../errors.js';
import { formatBytes } from '../output/render.js';
import { LayerPlan, type Owner, planCopy, resolveDest } from './copy-plan.js';
import { type Instruction, dockerfileError } from './dockerfile.js';
import { decompressed } from './decompress.js';
import { ImageTree } from './image-fs.js';
import { expand, flagsOf, isUrl, parseChmod, parseChownSpec, refuseUrl } from './instructions.js';
import { type BuiltLayer, hashLayer, writeLayer } from './layer.js';
import { type LayerEntry, type Tree, cleanInside, hasWildcard, resolveInTree } from './tree.js';
import type { Shared } from './types.js';

export interface CopyEnv {
  vars: Map<string, string>;
  workdir: string;
  /** The media type new layers get (OCI or Docker, as the base). */
  layerMediaType: string;
  /** The stage's layers end up in the final image (it is the target or one the target starts FROM). */
  final: boolean;
  /** The files of an earlier stage or of an image, reading only the wanted files' bytes. */
  fromTree(name: string, want: (path: string) => boolean): Promise<Tree>;
  /** The files of the stage being built (for /etc/passwd and /etc/group). */
  ownTree(want: (path: string) => boolean): Promise<ImageTree>;
  /** The stage's directory tree (names, types, modes, owners; no bytes): where destinations land. */
  destFs(): Promise<Tree | undefined>;
}

export interface CopyOutcome {
  layer?: BuiltLayer;
  /** What the layer holds (for the directory tree of later instructions). */
  entries?: LayerEntry[];
  files: number;
  bytes: number;
}

/** A predicate for the paths under the literal prefixes of some sources. */
function wantUnder(sources: string[]): (path: string) => boolean {
  const prefixes = sources.map((s) => {
    const segs = (cleanInside(s) ?? '').split('/').filter(Boolean);
    const i = segs.findIndex((seg) => hasWildcard(seg));
    return (i < 0 ? segs : segs.slice(0, i)).join('/');
  });
  return (p) => prefixes.some((x) => x === '' || p === x || p.startsWith(`${x}/`));
}

/** A name's numeric id (and primary group) in passwd/group text. */
function lookupId(text: string | undefined, name: string): { id: number; gid?: number } | undefined {
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2]))
      return { id: Number(f[2]), gid: /^\d+$/.test(f[3] ?? '') ? Number(f[3]) : undefined };
  }
  return undefined;
}

async function resolveOwner(ins: Instruction, spec: string, env: CopyEnv): Promise<Owner> {
  const { user, group } = parseChownSpec(ins, spec);
  const numeric = (s: string) => /^\d+$/.test(s);
  if (numeric(user) && (group === undefined || numeric(group)))
    return { uid: Number(user), gid: Number(group ?? user) };
  // Names: look them up in the image being built, as Docker does (this reads its layers).
  const tree = await env.ownTree((p) => p === 'etc/passwd' || p === 'etc/group');
  const passwd = await tree.readText('etc/passwd');
  let uid: number;
  let gid: number | undefined;
  if (numeric(user)) uid = Number(user);
  else if (user === 'root' && !passwd) uid = 0;
  else {
    const u = lookupId(passwd, user);
    if (!u)
      throw dockerfileError(
        ins.line,
        `${ins.keyword} --chown=${spec}: no user ${JSON.stringify(user)} in the image's /etc/passwd`,
        'use numeric ids: --chown=UID:GID',
      );
    uid = u.id;
    gid = u.gid;
  }
  if (group !== undefined) {
    if (numeric(group)) gid = Number(group);
    else if (group === 'root' && !passwd) gid = 0;
    else {
      const g = lookupId(await tree.readText('etc/group'), group);
      if (!g)
        throw dockerfileError(
          ins.line,
          `${ins.keyword} --chown=${spec}: no group ${JSON.stringify(group)} in the image's /etc/group`,
          'use numeric ids: --chown=UID:GID',
        );
      gid = g.id;
    }
  }
  return { uid, gid: gid ?? uid };
}

/** Whether a context file is a tar archive (plain, gzip, bzip2 or xz) that ADD unpacks: a tar header first. */
async function isLocalArchive(path: string, signal: AbortSignal): Promise<boolean> {
  const got: Buffer[] = [];
  let n = 0;
  try {
    const head = createReadStream(path, { end: 1024 * 1024 });
    for await (const c of decompressed(head, path, { archives: true, signal })) {
      got.push(c);
      n += c.byteLength;
      if (n >= 512) break;
    }
  } catch {
    return false;
  }
  const data = Buffer.concat(got);
  return data.length >= 512 && data.subarray(257, 262).toString('latin1') === 'ustar';
}

/** A size in whole MiB or GiB where it is one (as --max-add-size takes it), else formatted. */
function sizeText(n: number, space: string): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
  ] as const) {
    if (n % size === 0) return `${n / size}${space}${unit}`;
  }
  return formatBytes(n);
}

async function archiveEntries(
  sh: Shared,
  ins: Instruction,
  files: string[],
  destDir: string,
  plan: LayerPlan,
  chown?: Owner,
  chmod?: number,
): Promise<void> {
  const tree = new ImageTree(`archive ${files.join(', ')}`);
  const cap = sh.opts.maxAddBytes;
  const counter = { n: 0 };
  const overCap = () =>
    new UsageError(
      `Dockerfile:${ins.line}: ${ins.keyword}: ` +
        `the archives unpack to more than ${sizeText(cap, ' ')}, the most one ADD may extract`,
      `raise the limit with --max-add-size (e.g. --max-add-size ${sizeText(cap * 4, '')})`,
    );
  for (const f of files) {
    const what = `${ins.keyword} ${f}`;
    const decompress = { archives: true, cap, counter, overCap };
    const read = { spoolDir: sh.opts.tmpDir, signal: sh.opts.signal, whiteouts: false, under: destDir, decompress };
    await tree.apply({ what, open: async () => createReadStream(f) }, read);
  }
  const where = `Dockerfile:${ins.line}: ${ins.keyword}`;
  await planCopy(tree, { where, sources: [destDir || '/'], dest: `/${destDir}/`, workdir: '/', chown, chmod }, plan);
}

export async function copyStep(sh: Shared, ins: Instruction, env: CopyEnv): Promise<CopyOutcome> {
  const isAdd = ins.keyword === 'ADD';
  const flags = flagsOf(
    ins,
    isAdd
      ? ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir']
      : ['chown', 'chmod', 'from', 'link', 'exclude', 'parents'],
  );
  const esc = sh.df.escape;
  const words = ins.json ?? ins.args.split(/\s+/).filter(Boolean);
  if (words.length < 2) throw dockerfileError(ins.line, `${ins.keyword} needs at least one source and a destination`);
  const expanded = words.map((w) => expand(ins, w, env.vars, esc));
  const dest = expanded.pop()!;
  const sources = expanded;
  for (const s of sources) if (isAdd && isUrl(s)) refuseUrl(ins, s);
  // Docker's own words for it.
  for (const s of sources) {
    if (!isAdd && isUrl(s))
      throw dockerfileError(ins.line, `${s}: source can't be a URL for COPY`, 'download it first');
  }
  if (flags.has('checksum') || flags.has('keep-git-dir'))
    throw dockerfileError(
      ins.line,
      `ADD --${flags.has('checksum') ? 'checksum' : 'keep-git-dir'} ` +
        `applies to downloads, which regctl build does not do`,
    );
  if (flags.has('exclude') || flags.has('parents'))
    throw dockerfileError(
      ins.line,
      `COPY --${flags.has('exclude') ? 'exclude' : 'parents'} is not supported by regctl build`,
    );
  const chmodText = flags.get('chmod');
  const chmod = chmodText === undefined ? undefined : parseChmod(ins, expand(ins, chmodText, env.vars, esc));
  const chownText = flags.get('chown');
  const chown =
    chownText === undefined ? undefined : await resolveOwner(ins, expand(ins, chownText, env.vars, esc), env);
  const where = `Dockerfile:${ins.line}: ${ins.keyword}`;
  const destFs = await env.destFs();
  let entries: LayerEntry[];
  const fromText = flags.get('from');
  if (fromText !== undefined) {
    const from = expand(ins, fromText, env.vars, esc);
    if (!from) throw dockerfileError(ins.line, 'COPY --from needs a stage name or an image');
    const want = wantUnder(sources);
    const req = { where, sources, dest, workdir: env.workdir, chown, chmod, destFs, fromOther: true };
    let tree = await env.fromTree(from, want);
    entries = await planCopy(tree, req);
    if (entries.some((e) => e.type === 'file' && e.size > 0 && !e.hostPath)) {
      // A symlink led outside the sources' directories: read every file this time.
      tree = await env.fromTree(from, () => true);
      entries = await planCopy(tree, req);
    }
  } else if (isAdd) {
    const archives: string[] = [];
    const plain: string[] = [];
    for (const s of sources) {
      const rel = cleanInside(s);
      const r =
        rel === undefined || hasWildcard(rel) ? undefined : await resolveInTree(sh.context, rel, true, `${where} ${s}`);
      const file = r?.node?.type === 'file' ? r.node.hostPath : undefined;
      if (file && (await isLocalArchive(file, sh.opts.signal))) archives.push(file);
      else plain.push(s);
    }
    const d = resolveDest(dest, env.workdir);
    const plan = new LayerPlan(where, destFs);
    if (archives.length) {
      await archiveEntries(sh, ins, archives, d.path, plan, chown, chmod);
    }
    if (plain.length) {
      const destText = archives.length && !d.isDir ? `${dest}/` : dest;
      const req = { where, sources: plain, dest: destText, workdir: env.workdir, chown, chmod, destFs };
      await planCopy(sh.context, req, plan);
    }
    entries = plan.entries();
  } else {
    entries = await planCopy(sh.context, { where, sources, dest, workdir: env.workdir, chown, chmod, destFs });
  }
  const files = entries.filter((e) => e.type === 'file' || e.type === 'link').length;
  const bytes = entries.reduce((n, e) => n + e.size, 0);
  if (entries.length === 0) return { files, bytes };
  return { layer: await layerFor(sh, entries, env), files, bytes, entries };
}

/** The layer of some entries: written once per build for the same entries, or found at a destination by its diffID. */
export async function layerFor(
  sh: Shared,
  entries: LayerEntry[],
  env: Pick<CopyEnv, 'final' | 'layerMediaType'>,
): Promise<BuiltLayer> {
  // The same entries (same files, owners, modes) make the same layer: write it once for every platform.
  const key = createHash('sha256').update(JSON.stringify(entries)).digest('hex');
  let layer = sh.layerCache.get(key);
  if (!layer) {
    const onLayer = env.final ? sh.opts.onLayer : undefined;
    const { epoch, signal, reuse } = sh.opts;
    layer = (async (): Promise<BuiltLayer> => {
      await reuse?.ready;
      if (reuse?.size) {
        // The destination may hold this very layer: hashing the tar is enough to know, compressing is not needed.
        const h = await hashLayer(entries, epoch, signal);
        const hit = reuse.find(h.diffId, env.layerMediaType);
        if (hit)
          return { digest: hit.desc.digest, size: hit.desc.size, ...h, entries: entries.length, from: hit.source };
      }
      return writeLayer(entries, {
        dir: sh.opts.tmpDir,
        mtime: epoch,
        signal,
        onStart: onLayer && ((f) => onLayer(f, env.layerMediaType)),
      });
    })();
    sh.layerCache.set(key, layer);
  }
  return layer;
}
