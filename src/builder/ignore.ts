// .dockerignore with Docker's rules: cleaned patterns, `**`, `!` exceptions, the last match wins, parents count.
import { posix } from 'node:path';

interface Pattern {
  exclusion: boolean;
  text: string;
  re: RegExp;
  /** The literal part before the first wildcard (for deciding whether an excluded directory must be walked). */
  prefix: string;
}

/** The patterns of a .dockerignore file, as Docker reads them (comments, blank lines, leading `/`, `!`). */
export function readIgnoreFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p !== '') {
      p = posix.normalize(p);
      if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

function compile(pattern: string): RegExp {
  let re = '^';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        re += i + 1 >= chars.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '\\') re += i + 1 < chars.length ? `\\${chars[++i]}` : '\\\\';
    else if (ch === '[') {
      re += '[';
      if (chars[i + 1] === '!' || chars[i + 1] === '^') {
        re += '^';
        i++;
      }
    } else if (ch === ']') re += ']';
    else if ('.+()|{}$^'.includes(ch)) re += `\\${ch}`;
    else re += ch;
  }
  return new RegExp(`${re}$`, 's');
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[];
  readonly hasExclusions: boolean;

  constructor(lines: string[]) {
    this.patterns = [];
    for (const line of lines) {
      const exclusion = line.startsWith('!');
      const text = exclusion ? line.slice(1) : line;
      if (text === '') {
        if (exclusion) throw new Error('illegal exclusion pattern: "!"');
        continue;
      }
      let re: RegExp;
      try {
        re = compile(text);
      } catch {
        throw new Error(`invalid .dockerignore pattern ${JSON.stringify(line)}`);
      }
      const wild = text.search(/[*?[\\]/);
      this.patterns.push({ exclusion, text, re, prefix: wild < 0 ? text : text.slice(0, wild) });
    }
    this.hasExclusions = this.patterns.some((p) => p.exclusion);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** True when `path` (slash-separated, relative to the context root) is ignored. */
  ignores(path: string): boolean {
    if (path === '' || path === '.') return false;
    const parts = path.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let hit = p.re.test(path);
      for (let i = 1; !hit && i < parts.length; i++) hit = p.re.test(parts.slice(0, i).join('/'));
      if (hit) matched = !p.exclusion;
    }
    return matched;
  }

  /** Whether an ignored directory must still be walked because an exception may re-include something under it. */
  mayReinclude(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const d = `${dir}/`;
    return this.patterns.some(
      (p) => p.exclusion && (p.prefix.startsWith(d) || d.startsWith(p.prefix) || p.prefix === ''),
    );
  }
}
