// Runs the stages of a Dockerfile for one target platform: FROM, the config instructions, COPY/ADD layers, --from.
import { posix } from 'node:path';
import { formatBytes } from '../output/render.js';
import { UsageError } from '../errors.js';
import { type Platform, formatPlatform, hostPlatform, parsePlatform } from '../oci/platform.js';
import type { ImageConfigDoc } from '../oci/config.js';
import { DEFAULT_PATH, getEnv, mediaTypes, scratchConfig, setEnv } from './config.js';
import { LayerPlan } from './copy-plan.js';
import { copyStep, layerFor } from './copy-step.js';
import { baseIndex, stageTree } from './stage-fs.js';
import {
  type Instruction,
  type StageDef,
  type StagedDockerfile,
  dockerfileError,
  parseInstruction,
} from './dockerfile.js';
import { ImageTree, type LayerSource } from './image-fs.js';
import {
  argDecls,
  execOrShell,
  expand,
  expandList,
  flagsOf,
  keyValues,
  parseHealthcheck,
  parsePorts,
  refuse,
} from './instructions.js';
import { readLayerFile } from './layer.js';
import { verified } from '../copy/verify.js';
import type { BuiltLayer } from './layer.js';
import type { LayerEntry } from './tree.js';
import type { LayerRef, Shared, StageResult } from './types.js';

const CONFIG_ONLY = new Set([
  'ENV',
  'LABEL',
  'WORKDIR',
  'USER',
  'EXPOSE',
  'VOLUME',
  'STOPSIGNAL',
  'CMD',
  'ENTRYPOINT',
  'HEALTHCHECK',
  'SHELL',
  'ONBUILD',
  'MAINTAINER',
]);
export const SUPPORTED = new Set([...CONFIG_ONLY, 'ARG', 'COPY', 'ADD', 'FROM']);

/** The automatic platform ARGs (TARGETPLATFORM, TARGETARCH, BUILDPLATFORM, …). */
export function platformArgs(target: Platform): Map<string, string> {
  const m = new Map<string, string>();
  for (const [prefix, p] of [
    ['TARGET', target],
    ['BUILD', hostPlatform()],
  ] as const) {
    m.set(`${prefix}PLATFORM`, formatPlatform(p));
    m.set(`${prefix}OS`, p.os);
    m.set(`${prefix}ARCH`, p.architecture);
    m.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return m;
}

/**
 * The values of the ARGs before the first FROM, for one target platform (FROM lines see them and the automatic ones).
 */
export function globalArgs(
  df: StagedDockerfile,
  buildArgs: Map<string, string>,
  platform: Platform,
  consumed?: Set<string>,
): Map<string, string> {
  const auto = platformArgs(platform);
  const vars = new Map(auto);
  const out = new Map<string, string>();
  for (const ins of df.globalArgs) {
    for (const a of argDecls(ins, df.escape)) {
      consumed?.add(a.name);
      const v = buildArgs.get(a.name) ?? (a.def !== undefined ? expand(ins, a.def, vars, df.escape) : auto.get(a.name));
      if (v !== undefined) {
        out.set(a.name, v);
        vars.set(a.name, v);
      }
    }
  }
  return out;
}

export class PlatformBuild {
  private readonly results = new Map<number, Promise<StageResult>>();
  readonly globals: Map<string, string>;
  private readonly auto: Map<string, string>;

  constructor(
    private readonly sh: Shared,
    readonly platform: Platform,
    /** Several platforms are built: a base without this platform is an error, not a warning. */
    private readonly strict: boolean,
  ) {
    this.auto = platformArgs(platform);
    this.globals = globalArgs(sh.df, sh.opts.buildArgs, platform, sh.consumedArgs);
  }

  private label(): string {
    return this.strict ? `${formatPlatform(this.platform)} ` : '';
  }

  private step(text: string): void {
    const s = this.sh.steps;
    s.done++;
    this.sh.opts.onStep(`[${this.label()}${s.done}/${s.total}] ${text}`);
  }

  /** The stage's index for a name (`AS name`) or a number, when it names an earlier stage. */
  stageIndex(name: string, before: number): number | undefined {
    const lower = name.toLowerCase();
    const byName = this.sh.df.stages.find((s) => s.name === lower);
    if (byName) return byName.index < before ? byName.index : undefined;
    if (/^\d+$/.test(name) && Number(name) < before) return Number(name);
    return undefined;
  }

  stage(index: number): Promise<StageResult> {
    let r = this.results.get(index);
    if (!r) {
      r = this.run(this.sh.df.stages[index]);
      this.results.set(index, r);
    }
    return r;
  }

  private async run(def: StageDef): Promise<StageResult> {
    const { sh } = this;
    const esc = sh.df.escape;
    const from = def.from;
    const flags = flagsOf(from, ['platform']);
    const words = from.args.split(/\s+/).filter(Boolean);
    const globals = new Map([...this.auto, ...this.globals]);
    const name = expand(from, words[0], globals, esc);
    let platform = this.platform;
    const pf = flags.get('platform');
    if (pf !== undefined) {
      const text = expand(from, pf, globals, esc);
      const p = parsePlatform(text);
      if (!p) throw dockerfileError(from.line, `FROM --platform: invalid platform ${JSON.stringify(text)}`);
      platform = p;
    }
    let result: StageResult;
    let triggers: string[] = [];
    const prior = this.stageIndex(name, def.index);
    if (prior !== undefined) {
      const r = await this.stage(prior);
      result = { ...r, config: structuredClone(r.config), layers: [...r.layers] };
    } else if (name.toLowerCase() === 'scratch') {
      result = { platform, config: scratchConfig(platform), flavor: 'oci', layers: [] };
    } else {
      const base = await sh.resolver.image(
        name,
        platform,
        this.strict && pf === undefined,
        `Dockerfile:${from.line}: FROM`,
      );
      const diffIds = base.config.rootfs.diff_ids;
      if (diffIds.length !== base.layers.length)
        throw new UsageError(`${name}: its config lists ${diffIds.length} layers, its manifest ${base.layers.length}`);
      const layers: LayerRef[] = base.layers.map((desc, i) => ({ desc, diffId: diffIds[i], base }));
      const config = structuredClone(base.config);
      triggers = config.config.OnBuild ?? [];
      config.config.OnBuild = null;
      result = { platform: base.platform, config, flavor: base.flavor, layers, base };
      // COPY, ADD and WORKDIR need the base's directory tree: start reading it now.
      const writes = def.body.some((i) => ['COPY', 'ADD', 'WORKDIR'].includes(i.keyword));
      // Not awaited here: baseIndex keeps its promise's rejection handled; the instruction that needs it awaits it.
      if (writes) for (const l of layers) void baseIndex(this.sh, l);
      if (sh.finalChain.has(def.index)) sh.opts.onFinalBase?.(base);
    }
    if (!result.config.config.Env?.some((e) => e.startsWith('PATH=')) && result.config.os !== 'windows') {
      result.config.config.Env = [DEFAULT_PATH, ...(result.config.config.Env ?? [])];
    }
    this.step(
      `FROM ${name}${def.name ? ` AS ${def.name}` : ''}` +
        (prior === undefined && name.toLowerCase() !== 'scratch' ? ` (${formatPlatform(result.platform)})` : ''),
    );
    const st = { args: new Map<string, string>(), cmdSet: false };
    sh.steps.total += triggers.length;
    for (const t of triggers) await this.instruction(def, result, st, parseInstruction(t, from.line), true);
    for (const ins of def.body) await this.instruction(def, result, st, ins, false);
    return result;
  }

  private vars(result: StageResult, args: Map<string, string>): Map<string, string> {
    return new Map([...args, ...getEnv(result.config.config)]);
  }

  private history(result: StageResult, ins: Instruction, empty: boolean): void {
    const created = new Date(this.sh.opts.epoch * 1000).toISOString().replace('.000Z', 'Z');
    (result.config.history ??= []).push({
      created,
      created_by: ins.original,
      comment: 'regctl build',
      ...(empty ? { empty_layer: true } : {}),
    });
  }

  private async instruction(
    def: StageDef,
    result: StageResult,
    st: { args: Map<string, string>; cmdSet: boolean },
    ins: Instruction,
    trigger: boolean,
  ): Promise<void> {
    const { sh } = this;
    const esc = sh.df.escape;
    const c = result.config.config;
    const vars = () => this.vars(result, st.args);
    const shell = c.Shell ?? (result.config.os === 'windows' ? ['cmd', '/S', '/C'] : ['/bin/sh', '-c']);
    if (!SUPPORTED.has(ins.keyword) || ins.keyword === 'FROM') refuse(ins);
    if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD' && ins.keyword !== 'HEALTHCHECK') flagsOf(ins, []);
    switch (ins.keyword) {
      case 'ARG':
        for (const a of argDecls(ins, esc)) {
          sh.consumedArgs.add(a.name);
          const v =
            sh.opts.buildArgs.get(a.name) ??
            (a.def !== undefined
              ? expand(ins, a.def, vars(), esc)
              : (this.globals.get(a.name) ?? this.auto.get(a.name)));
          if (v !== undefined) st.args.set(a.name, v);
        }
        break;
      case 'ENV':
        for (const [k, v] of keyValues(ins, vars(), esc, true)) setEnv(c, k, v);
        break;
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(ins, vars(), esc, true)) c.Labels[k] = v;
        break;
      case 'WORKDIR': {
        const w = expand(ins, ins.args, vars(), esc);
        if (!w) throw dockerfileError(ins.line, 'WORKDIR needs a path');
        c.WorkingDir = posix
          .normalize(posix.isAbsolute(w) ? w : posix.join(c.WorkingDir || '/', w))
          .replace(/(.)\/$/, '$1');
        if (await this.workdir(def, result, ins, trigger)) return;
        break;
      }
      case 'USER':
        c.User = expand(ins, ins.args, vars(), esc);
        if (!c.User) throw dockerfileError(ins.line, 'USER needs a user');
        break;
      case 'EXPOSE':
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of parsePorts(ins, expandList(ins, ins.args, vars(), esc))) c.ExposedPorts[p] = {};
        break;
      case 'VOLUME': {
        const list = ins.json
          ? ins.json.map((v) => expand(ins, v, vars(), esc))
          : expandList(ins, ins.args, vars(), esc);
        if (list.length === 0 || list.some((v) => v.trim() === ''))
          throw dockerfileError(ins.line, 'VOLUME needs non-empty paths');
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of list) c.Volumes[v] = {};
        break;
      }
      case 'STOPSIGNAL':
        c.StopSignal = expand(ins, ins.args, vars(), esc);
        break;
      case 'CMD':
        c.Cmd = execOrShell(ins.json, ins.args, shell);
        st.cmdSet = true;
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = execOrShell(ins.json, ins.args, shell);
        // Docker: an ENTRYPOINT drops the CMD inherited from the base unless this stage set one.
        if (!st.cmdSet) c.Cmd = null;
        break;
      case 'HEALTHCHECK':
        c.Healthcheck = parseHealthcheck(ins, shell);
        break;
      case 'SHELL':
        if (!ins.json || ins.json.length === 0)
          throw dockerfileError(ins.line, 'SHELL takes a JSON array, e.g. SHELL ["/bin/bash", "-c"]');
        c.Shell = ins.json;
        break;
      case 'ONBUILD': {
        const inner = parseInstruction(ins.args, ins.line);
        if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(inner.keyword))
          throw dockerfileError(ins.line, `ONBUILD ${inner.keyword} is not allowed`);
        c.OnBuild = [...(c.OnBuild ?? []), inner.original];
        break;
      }
      case 'MAINTAINER':
        result.config.author = ins.args;
        break;
      case 'COPY':
      case 'ADD':
        return this.copy(def, result, st.args, ins);
    }
    if (ins.keyword !== 'ARG') this.history(result, ins, true);
    this.step(`${trigger ? 'ONBUILD ' : ''}${ins.original}`);
  }

  /**
   * WORKDIR makes its directory (and missing parents) 0755 root as Docker's builder does, in a layer of its own;
   * a directory the image has already costs nothing. True when a layer was added.
   */
  private async workdir(def: StageDef, result: StageResult, ins: Instruction, trigger: boolean): Promise<boolean> {
    const dir = result.config.config.WorkingDir ?? '/';
    const plan = new LayerPlan(`Dockerfile:${ins.line}: WORKDIR`, await this.destFs(result));
    const target = await plan.resolve(dir.replace(/^\/+/, ''));
    if (target.path === '' || target.node?.type === 'dir') return false;
    await plan.ensureDir(target.path, { uid: 0, gid: 0 });
    const entries = plan.entries();
    const final = this.sh.finalChain.has(def.index);
    const l = await layerFor(this.sh, entries, { final, layerMediaType: mediaTypes(result.flavor).layer });
    this.addLayer(result, l, entries);
    this.history(result, ins, false);
    this.step(`${trigger ? 'ONBUILD ' : ''}${ins.original}: made /${target.path} → layer ${l.digest.slice(7, 19)}`);
    return true;
  }

  private addLayer(result: StageResult, l: BuiltLayer, entries: LayerEntry[]): void {
    const desc = { mediaType: mediaTypes(result.flavor).layer, digest: l.digest, size: l.size };
    result.layers.push({ desc, diffId: l.diffId, built: l, entries });
    result.config.rootfs.diff_ids.push(l.diffId);
  }

  private destFs(r: StageResult): Promise<ImageTree | undefined> {
    return stageTree(this.sh, r.layers);
  }

  private async copy(def: StageDef, result: StageResult, args: Map<string, string>, ins: Instruction): Promise<void> {
    const { sh } = this;
    const vars = this.vars(result, args);
    const out = await copyStep(sh, ins, {
      vars,
      workdir: result.config.config.WorkingDir || '/',
      layerMediaType: mediaTypes(result.flavor).layer,
      final: sh.finalChain.has(def.index),
      fromTree: (name, want) => this.fromTree(name, def.index, want, ins),
      ownTree: (want) => this.treeOf(`stage ${def.name ?? def.index}`, result, want),
      destFs: () => this.destFs(result),
    });
    const what = `${out.files} file${out.files === 1 ? '' : 's'}, ${formatBytes(out.bytes)}`;
    if (!out.layer) {
      this.history(result, ins, true);
      this.step(`${ins.original}: ${what}, no layer`);
      return;
    }
    const l = out.layer;
    this.addLayer(result, l, out.entries ?? []);
    this.history(result, ins, false);
    this.step(
      `${ins.original}: ${what} → layer ${l.digest.slice(7, 19)} ` +
        `(${formatBytes(l.size)}${l.from ? ', already at the destination' : ''})`,
    );
  }

  private async fromTree(
    name: string,
    self: number,
    want: (p: string) => boolean,
    ins: Instruction,
  ): Promise<ImageTree> {
    const idx = this.stageIndex(name, self);
    if (idx !== undefined) return this.treeOf(`stage ${name}`, await this.stage(idx), want);
    if (this.sh.df.stages.some((s) => s.name === name.toLowerCase()))
      throw dockerfileError(ins.line, `COPY --from=${name}: a stage can only copy from an earlier stage`);
    const img = await this.sh.resolver.image(name, this.platform, false, `Dockerfile:${ins.line}: COPY --from`);
    const layers: LayerRef[] = img.layers.map((desc, i) => ({
      desc,
      diffId: img.config.rootfs.diff_ids[i] ?? '',
      base: img,
    }));
    return this.treeOf(
      `image ${name}`,
      { platform: img.platform, config: img.config, flavor: img.flavor, layers, base: img },
      want,
    );
  }

  /** The files of a stage's image: its layers read bottom up (base layers are downloaded for this). */
  private async treeOf(label: string, r: StageResult, want: (p: string) => boolean): Promise<ImageTree> {
    const signal = this.sh.opts.signal;
    const sources: LayerSource[] = r.layers.map((l) => ({
      what: `${label}: layer ${l.desc.digest}`,
      open: async (s: AbortSignal) =>
        l.built?.path
          ? readLayerFile(l.built.path)
          : verified(await (l.built?.from ?? l.base!.source).getBlob(l.desc, { signal: s }), l.desc),
    }));
    const tree = new ImageTree(label);
    for (const s of sources) await tree.apply(s, { spoolDir: this.sh.opts.tmpDir, want, signal });
    return tree;
  }

  /** The config of the final image: --label values applied. */
  finalConfig(result: StageResult): ImageConfigDoc {
    const config = structuredClone(result.config);
    if (this.sh.opts.labels.size)
      config.config.Labels = { ...(config.config.Labels ?? {}), ...Object.fromEntries(this.sh.opts.labels) };
    config.created = new Date(this.sh.opts.epoch * 1000).toISOString().replace('.000Z', 'Z');
    return config;
  }
}
