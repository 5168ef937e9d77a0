// The sync spec: YAML parsed with line numbers, allowed ${ENV} expanded, validated into plain entries; errors name
// SPEC:LINE (exit 2).
import validRange from 'semver/ranges/valid.js';
import { type Document, LineCounter, type Node, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { UsageError } from '../errors.js';
import { type Location, parseLocation } from '../location/parse.js';
import { type Platform, parsePlatform } from '../oci/platform.js';
import { ENV_NAME, SpecEnv } from './spec-env.js';

export { expandEnv } from './spec-env.js';

export interface TagRules {
  /** Tags copied as named (no listing needed for these). */
  list?: string[];
  allow?: RegExp[];
  deny?: RegExp[];
  semver?: string;
  /** Keep the newest N semver tags of those selected. */
  latest?: number;
  /** Let semver ranges match pre-release versions (1.2.3-rc1, 1.27.0-alpine). */
  prerelease?: boolean;
}

export interface SpecEntry {
  /** Position in `sync:` (0-based) and the line it starts on. */
  index: number;
  line: number;
  source: Location;
  /** Where to write; a registry target here carries no tag (each image is written under `targetTag` or its own tag). */
  target: Location;
  /** The tag the spec names on the target, if any (then exactly one image is selected). */
  targetTag?: string;
  /** Absent: copy the tag (or digest) the source names. */
  tags?: TagRules;
  /** undefined: every platform (an index is kept byte-identical). */
  platforms?: Platform[];
  /** Copy the referrers (signatures, SBOMs, attestations) too; registry to registry. */
  referrers?: boolean;
}

export interface SpecDefaults {
  jobs?: number;
  images?: number;
  platforms?: Platform[];
  keepGoing?: boolean;
  rateFloor?: number;
  rateWaitMs?: number;
  referrers?: boolean;
}

export interface SyncSpec {
  path: string;
  defaults: SpecDefaults;
  entries: SpecEntry[];
}

const TAG_RE = /^[\w][\w.-]{0,127}$/;

const DEFAULT_KEYS = ['jobs', 'images', 'platforms', 'keep-going', 'rate-floor', 'rate-wait', 'referrers'];
const ENTRY_KEYS = ['source', 'target', 'tags', 'platforms', 'referrers'];
const TAG_KEYS = ['list', 'allow', 'deny', 'semver', 'latest', 'prerelease'];

/** `90s`, `30m`, `6h`, `1h30m`, or a number of seconds → milliseconds; undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let at = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * unit[m[2]];
    at = re.lastIndex;
  }
  return at === t.length && at > 0 ? Math.round(total) : undefined;
}

export interface ParseSpecOptions {
  /** Variables `${NAME}` may read besides those the spec's `env:` list names (`--env NAME`). */
  allowEnv?: readonly string[];
}

/**
 * Parses and validates a spec. Every problem is a UsageError `PATH:LINE: what` (exit 2). `${NAME}` reads only the
 * variables the spec's `env:` list or `opts.allowEnv` names, and no message shows a value read from the environment.
 */
export function parseSpec(
  text: string,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: ParseSpecOptions = {},
): SyncSpec {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 1 : lc.linePos(offset).line);
  let vars: SpecEnv | undefined;
  const fail = (at: Node | number | undefined, why: string): never => {
    const offset = typeof at === 'number' ? at : at?.range?.[0];
    const text = vars ? vars.scrub(why) : why;
    throw new UsageError(`${path}:${lineOf(offset)}: ${text}`, 'see `regctl sync --help` for the spec format');
  };
  const yamlError = doc.errors[0];
  if (yamlError) fail(yamlError.pos[0], `invalid YAML: ${yamlError.message.split('\n')[0]}`);
  const v = new Validator(doc, (allowed) => (vars = new SpecEnv(env, allowed)), fail, lineOf);
  return v.spec(path, opts.allowEnv ?? []);
}

type Fail = (at: Node | number | undefined, why: string) => never;

class Validator {
  private env!: SpecEnv;
  /** expanded text → what the spec says (errors show the latter) */
  private readonly raw = new Map<string, string>();

  constructor(
    private readonly doc: Document,
    private readonly makeEnv: (allowed: ReadonlySet<string>) => SpecEnv,
    private readonly fail: Fail,
    private readonly lineOf: (offset: number) => number,
  ) {}

  /** A value for an error message: as the spec wrote it when it held variables, never their values. */
  private show(text: string): string {
    return JSON.stringify(this.raw.get(text) ?? text);
  }

  private deref(node: unknown): Node | undefined {
    let n = node as Node | undefined;
    for (let i = 0; i < 16 && n && isAlias(n); i++) n = n.resolve(this.doc) as Node | undefined;
    return n ?? undefined;
  }

  /** The pairs of a map node, keys as strings; unknown keys refused with a suggestion. */
  private entries(node: Node, what: string, known: string[]): Map<string, { key: Node; value: Node | undefined }> {
    if (!isMap(node)) this.fail(node, `${what} must be a mapping (key: value)`);
    const out = new Map<string, { key: Node; value: Node | undefined }>();
    for (const pair of (node as unknown as { items: Array<{ key: unknown; value: unknown }> }).items) {
      const key = this.deref(pair.key);
      if (!key || !isScalar(key) || typeof key.value !== 'string')
        this.fail(key ?? node, `${what}: keys must be names`);
      const name = (key as unknown as { value: string }).value;
      if (!known.includes(name)) {
        const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
        const near = known.find((k) => norm(k) === norm(name));
        this.fail(
          key,
          `${what}: unknown key "${name}"${near ? ` (did you mean "${near}"?)` : ` (known: ${known.join(', ')})`}`,
        );
      }
      out.set(name, { key: key as Node, value: this.deref(pair.value) });
    }
    return out;
  }

  private string(node: Node | undefined, at: Node, what: string): string {
    const n = node ?? at;
    if (!node || !isScalar(node) || node.value === null || typeof node.value === 'object')
      this.fail(n, `${what} must be a string`);
    const raw = String((node as unknown as { value: unknown }).value);
    const text = this.env.expand(raw, (why) => this.fail(n, `${what}: ${why}`)).trim();
    if (!text) this.fail(n, `${what} is empty`);
    if (text !== raw.trim()) this.raw.set(text, raw.trim());
    return text;
  }

  private strings(node: Node | undefined, at: Node, what: string): Array<{ text: string; node: Node }> {
    if (node && isSeq(node)) {
      const items = (node as unknown as { items: unknown[] }).items.map((i) => this.deref(i) ?? node);
      if (!items.length) this.fail(node, `${what} is an empty list`);
      return items.map((i) => ({ text: this.string(i, i, `${what} item`), node: i }));
    }
    return [{ text: this.string(node, at, what), node: node ?? at }];
  }

  private int(node: Node | undefined, at: Node, what: string, min: number, max: number): number {
    const value = node && isScalar(node) ? (node as unknown as { value: unknown }).value : undefined;
    const expand = (v: string) => this.env.expand(v, (why) => this.fail(node, `${what}: ${why}`));
    const n = typeof value === 'string' ? Number(expand(value)) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
      this.fail(node ?? at, `${what} must be a whole number from ${min} to ${max}`);
    return n;
  }

  private bool(node: Node | undefined, at: Node, what: string): boolean {
    const value = node && isScalar(node) ? (node as unknown as { value: unknown }).value : undefined;
    if (typeof value !== 'boolean') this.fail(node ?? at, `${what} must be true or false`);
    return value;
  }

  /** A list of platforms, or `all` (undefined: every platform). */
  private platforms(node: Node | undefined, at: Node, what: string): Platform[] | undefined {
    if (node && isScalar(node) && (node as unknown as { value: unknown }).value === 'all') return undefined;
    return this.strings(node, at, what).map(({ text, node: n }) => {
      const p = parsePlatform(text);
      if (!p) {
        const hint = '(expected os/arch[/variant], e.g. linux/arm64, or "all")';
        this.fail(n, `${what}: invalid platform ${this.show(text)} ${hint}`);
      }
      return p;
    });
  }

  spec(path: string, allowEnv: readonly string[]): SyncSpec {
    const root = this.deref(this.doc.contents);
    if (!root || (isScalar(root) && root.value === null)) this.fail(0, 'the spec is empty: it needs a `sync:` list');
    const top = this.entries(root as Node, 'the spec', ['env', 'defaults', 'sync']);
    const allowed = new Set(allowEnv);
    const e = top.get('env');
    if (e) {
      const seq = e.value && isSeq(e.value) ? (e.value as unknown as { items: unknown[] }).items : undefined;
      const list = seq ? seq.map((i) => this.deref(i)) : [e.value];
      for (const item of list) {
        const name = item && isScalar(item) ? (item as unknown as { value: unknown }).value : undefined;
        if (typeof name !== 'string' || !ENV_NAME.test(name)) {
          this.fail(item ?? e.key, '`env` must be a list of environment variable names (e.g. [ECR, TEAM])');
        }
        allowed.add(name);
      }
    }
    this.env = this.makeEnv(allowed);
    const defaults: SpecDefaults = {};
    const d = top.get('defaults');
    if (d?.value) {
      const m = this.entries(d.value, 'defaults', DEFAULT_KEYS);
      const get = (k: string) => m.get(k);
      const at = (k: string) => get(k)!.key;
      if (get('jobs')) defaults.jobs = this.int(get('jobs')!.value, at('jobs'), 'defaults.jobs', 1, 64);
      if (get('images')) defaults.images = this.int(get('images')!.value, at('images'), 'defaults.images', 1, 64);
      if (get('platforms'))
        defaults.platforms = this.platforms(get('platforms')!.value, at('platforms'), 'defaults.platforms');
      if (get('referrers')) {
        defaults.referrers = this.bool(get('referrers')!.value, at('referrers'), 'defaults.referrers');
      }
      if (get('keep-going'))
        defaults.keepGoing = this.bool(get('keep-going')!.value, at('keep-going'), 'defaults.keep-going');
      if (get('rate-floor'))
        defaults.rateFloor = this.int(get('rate-floor')!.value, at('rate-floor'), 'defaults.rate-floor', 0, 1_000_000);
      if (get('rate-wait')) {
        const text = this.string(get('rate-wait')!.value, at('rate-wait'), 'defaults.rate-wait');
        const ms = parseDuration(text);
        if (ms === undefined) {
          const why = `defaults.rate-wait: unreadable duration ${this.show(text)} (e.g. 90s, 30m, 6h)`;
          this.fail(get('rate-wait')!.value ?? at('rate-wait'), why);
        }
        defaults.rateWaitMs = ms;
      }
    }
    const s = top.get('sync');
    if (!s) this.fail(root as Node, 'the spec needs a `sync:` list of { source, target } entries');
    if (!s.value || !isSeq(s.value)) this.fail(s.value ?? s.key, '`sync` must be a list of { source, target } entries');
    const items = (s.value as unknown as { items: unknown[] }).items;
    if (!items.length) this.fail(s.value, '`sync` is an empty list');
    const entries = items.map((item, index) => this.entry(this.deref(item) ?? s.value!, index, defaults));
    return { path, defaults, entries };
  }

  private location(node: Node | undefined, at: Node, what: string): Location {
    const text = this.string(node, at, what);
    try {
      return parseLocation(text);
    } catch (err) {
      // The parser's reason quotes the text: with variables in it, name the location as written instead.
      if (this.raw.has(text)) {
        const why = `${what}: ${this.show(text)} is not a valid location once its variables are expanded`;
        return this.fail(node ?? at, why);
      }
      return this.fail(node ?? at, `${what}: ${(err as Error).message}`);
    }
  }

  private entry(node: Node, index: number, defaults: SpecDefaults): SpecEntry {
    const what = `sync[${index}]`;
    const m = this.entries(node, what, ENTRY_KEYS);
    for (const k of ['source', 'target']) if (!m.has(k)) this.fail(node, `${what} needs a \`${k}\``);
    const src = m.get('source')!;
    const dst = m.get('target')!;
    const sourceText = this.string(src.value, src.key, `${what}.source`);
    const source = this.location(src.value, src.key, `${what}.source`);
    const target = this.location(dst.value, dst.key, `${what}.target`);
    const t = m.get('tags');
    const tags = t ? this.tagRules(t.value, t.key, `${what}.tags`) : undefined;
    const names = namesTagOrDigest(sourceText, source);
    if (tags && source.kind !== 'registry' && source.kind !== 'oci')
      this.fail(t!.key, `${what}.tags: tag selection needs a registry or oci: source`);
    if (tags && names)
      this.fail(t!.key, `${what}: the source names a tag or digest and \`tags:\` selects tags too: keep one`);
    if (!tags && !names && (source.kind === 'registry' || source.kind === 'oci')) {
      const example = this.show(sourceText).slice(1, -1);
      this.fail(
        src.value ?? src.key,
        `${what}.source names no tag: add one (e.g. ${example}:1.0), ` +
          'or select tags with `tags:` (every tag: `tags: { allow: [".*"] }`)',
      );
    }
    const dstNode = dst.value ?? dst.key;
    if (
      target.kind === 'docker-archive' ||
      target.kind === 'oci-archive' ||
      (target.kind === 'path' && /\.tar$/i.test(target.path))
    ) {
      this.fail(
        dstNode,
        `${what}.target: sync writes to a registry repository or an OCI layout directory (oci:DIR), not an archive`,
      );
    }
    if ((target.kind === 'registry' && target.ref.digest) || (target.kind === 'oci' && target.digest))
      this.fail(dstNode, `${what}.target: a target cannot name a digest`);
    const targetText = this.string(dst.value, dst.key, `${what}.target`);
    const targetNamesTag =
      target.kind === 'registry'
        ? namesTagOrDigest(targetText, target)
        : target.kind === 'oci' && target.tag !== undefined;
    const targetTag = targetNamesTag
      ? target.kind === 'registry'
        ? target.ref.tag
        : target.kind === 'oci'
          ? target.tag
          : undefined
      : undefined;
    if (target.kind === 'registry') target.ref = { ...target.ref, tag: undefined };
    if (target.kind === 'oci') delete target.tag;
    const single = !tags || (tags.list?.length === 1 && !tags.allow && !tags.semver && !tags.latest);
    if (targetNamesTag && !single)
      this.fail(dstNode, `${what}.target names a tag but \`tags:\` may select several: name the repository only`);
    const sourceTag =
      source.kind === 'registry'
        ? source.ref.tag
        : source.kind === 'oci' || source.kind === 'oci-archive'
          ? source.tag
          : undefined;
    if (!targetNamesTag && !tags && sourceTag === undefined) {
      const example = this.show(targetText).slice(1, -1);
      const why =
        `${what}.target: the source names no tag to write under: ` + `name one on the target (e.g. ${example}:1.0)`;
      this.fail(dstNode, why);
    }
    const p = m.get('platforms');
    const platforms = p ? this.platforms(p.value, p.key, `${what}.platforms`) : defaults.platforms;
    const r = m.get('referrers');
    const referrers = r ? this.bool(r.value, r.key, `${what}.referrers`) : defaults.referrers;
    if (r?.value && referrers && (source.kind !== 'registry' || target.kind !== 'registry')) {
      this.fail(r.value, `${what}.referrers: referrers are copied between registries only`);
    }
    const withReferrers = referrers && source.kind === 'registry' && target.kind === 'registry';
    const line = node.range ? node.range[0] : 0;
    return {
      index,
      line: this.lineOf(line),
      source,
      target,
      ...(targetTag !== undefined ? { targetTag } : {}),
      ...(tags ? { tags } : {}),
      ...(platforms ? { platforms } : {}),
      ...(withReferrers ? { referrers: true } : {}),
    };
  }

  private tagRules(node: Node | undefined, at: Node, what: string): TagRules {
    if (!node) this.fail(at, `${what} is empty`);
    const m = this.entries(node, what, TAG_KEYS);
    if (!m.size) this.fail(node, `${what} is empty: give list, allow, deny, semver or latest`);
    const rules: TagRules = {};
    const l = m.get('list');
    if (l) {
      rules.list = this.strings(l.value, l.key, `${what}.list`).map(({ text, node: n }) => {
        if (!TAG_RE.test(text)) this.fail(n, `${what}.list: invalid tag ${this.show(text)}`);
        return text;
      });
    }
    for (const k of ['allow', 'deny'] as const) {
      const e = m.get(k);
      if (!e) continue;
      rules[k] = this.strings(e.value, e.key, `${what}.${k}`).map(({ text, node: n }) => {
        try {
          return new RegExp(text);
        } catch (err) {
          // V8's message quotes the pattern (expanded): keep only its reason.
          const why = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
          return this.fail(n, `${what}.${k}: invalid regular expression ${this.show(text)}: ${why}`);
        }
      });
    }
    const sv = m.get('semver');
    if (sv) {
      const range = this.string(sv.value, sv.key, `${what}.semver`);
      if (validRange(range) === null) {
        const why = `${what}.semver: invalid semver range ${this.show(range)} (e.g. ">=3.18", "^1.27", "1.x || 2.x")`;
        this.fail(sv.value ?? sv.key, why);
      }
      rules.semver = range;
    }
    const lt = m.get('latest');
    if (lt) rules.latest = this.int(lt.value, lt.key, `${what}.latest`, 1, 100_000);
    const pr = m.get('prerelease');
    if (pr) rules.prerelease = this.bool(pr.value, pr.key, `${what}.prerelease`);
    if (rules.prerelease !== undefined && !rules.semver)
      this.fail(pr!.key, `${what}.prerelease only applies with semver`);
    if (!rules.list && !rules.allow && !rules.deny && !rules.semver && !rules.latest)
      this.fail(node, `${what} selects nothing: give list, allow, deny, semver or latest`);
    return rules;
  }
}

/**
 * Whether the text the user wrote names a tag or digest (a bare repository is normalised to `latest` by the parser).
 */
function namesTagOrDigest(text: string, loc: Location): boolean {
  if (loc.kind === 'registry') {
    const t = text.replace(/^docker:\/\//, '');
    return t.includes('@') || t.slice(t.lastIndexOf('/') + 1).includes(':');
  }
  if (loc.kind === 'oci' || loc.kind === 'oci-archive') return loc.tag !== undefined || loc.digest !== undefined;
  return true;
}
