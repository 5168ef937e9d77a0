// A stage's directory tree (names, types, modes, owners; no bytes) for where COPY/ADD/WORKDIR land: base layers from
// their indexes (read once per build, cached across builds by layer digest), this build's layers from their entries.
import { verified } from '../copy/verify.js';
import { ImageTree } from './image-fs.js';
import { type MetaEntry, layerIndex } from './layer-index.js';
import type { LayerEntry } from './tree.js';
import type { LayerRef, Shared } from './types.js';

const TYPES = { file: 'f', dir: 'd', symlink: 'l', link: 'h' } as const;

function metaOf(entries: LayerEntry[]): MetaEntry[] {
  return entries.map((e) => ({
    ...e,
    type: TYPES[e.type],
    link: e.linkname,
    linkname: undefined,
    hostPath: undefined,
  }));
}

/** A base layer's index, fetched once per build; callers may start every layer's at once (they run in parallel). */
export function baseIndex(sh: Shared, l: LayerRef): Promise<MetaEntry[]> {
  const key = l.desc.digest;
  let p = sh.indexes.get(key);
  // A foreign (non-distributable) layer may not be served at all: its files are not looked at.
  if (!p && l.desc.mediaType.includes('foreign')) p = Promise.resolve([]);
  if (!p) {
    const src = l.built?.from ?? l.base!.source;
    const open = async (s: AbortSignal) => verified(await src.getBlob(l.desc, { signal: s }), l.desc);
    p = layerIndex(sh.indexCache, l.desc, open, `layer ${l.desc.digest}`, sh.opts.signal);
    p.catch(() => {}); // awaited (and its error reported) by the instruction that needs it
    sh.indexes.set(key, p);
  }
  return p;
}

/** The directory tree of an image made of these layers; undefined for no layers (scratch). */
export async function stageTree(sh: Shared, layers: LayerRef[]): Promise<ImageTree | undefined> {
  if (layers.length === 0) return undefined;
  const tree = new ImageTree('the image being built');
  const indexes = layers.map((l) => (l.entries ? Promise.resolve(metaOf(l.entries)) : baseIndex(sh, l)));
  for (const p of indexes) tree.applyIndex(await p);
  return tree;
}
