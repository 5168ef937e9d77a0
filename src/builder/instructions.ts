// Argument forms of the instructions: flags, key=value lists, ARG declarations, exec/shell forms, durations, ports,
// --chmod.
import { type Instruction, dockerfileError } from './dockerfile.js';
import { type Env, ExpandError, expandWord, expandWords } from './expand.js';

/** The instruction's flags as a map; unknown flags are refused (Docker: "unknown flag"). */
export function flagsOf(ins: Instruction, allowed: readonly string[]): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const f of ins.flags) {
    if (!allowed.includes(f.name)) {
      throw dockerfileError(
        ins.line,
        `${ins.keyword}: unknown flag --${f.name}` +
          (allowed.length ? ` (allowed: ${allowed.map((a) => `--${a}`).join(', ')})` : ''),
      );
    }
    out.set(f.name, f.value);
  }
  return out;
}

export function expand(ins: Instruction, text: string, env: Env, escape: string): string {
  try {
    return expandWord(text, env, escape);
  } catch (err) {
    if (err instanceof ExpandError)
      throw dockerfileError(ins.line, `${ins.keyword}: ${err.message} in ${JSON.stringify(text)}`);
    throw err;
  }
}

export function expandList(ins: Instruction, text: string, env: Env, escape: string): string[] {
  try {
    return expandWords(text, env, escape);
  } catch (err) {
    if (err instanceof ExpandError)
      throw dockerfileError(ins.line, `${ins.keyword}: ${err.message} in ${JSON.stringify(text)}`);
    throw err;
  }
}

/** ENV / LABEL: `k=v k2="v 2"`, or the legacy `ENV k value with spaces`. Keys and values expanded. */
export function keyValues(ins: Instruction, env: Env, escape: string, legacy: boolean): Array<[string, string]> {
  const words = splitWords(ins.args, escape);
  if (words.length === 0) throw dockerfileError(ins.line, `${ins.keyword} needs at least one argument`);
  if (!words[0].includes('=')) {
    if (!legacy) throw dockerfileError(ins.line, `${ins.keyword}: expected key=value, got ${JSON.stringify(words[0])}`);
    const m = /^(\S+)\s+([\s\S]*)$/.exec(ins.args);
    if (!m) throw dockerfileError(ins.line, `${ins.keyword} needs a name and a value`);
    return [[expand(ins, m[1], env, escape), expand(ins, m[2].trim(), env, escape)]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw dockerfileError(ins.line, `${ins.keyword}: can't find = in ${JSON.stringify(w)}; use name=value`);
    return [expand(ins, w.slice(0, i), env, escape), expand(ins, w.slice(i + 1), env, escape)];
  });
}

/** ARG name[=default] …: defaults are raw (expanded when declared). */
export function argDecls(ins: Instruction, escape: string): Array<{ name: string; def?: string }> {
  const words = splitWords(ins.args, escape);
  if (words.length === 0) throw dockerfileError(ins.line, 'ARG needs a name');
  return words.map((w) => {
    const i = w.indexOf('=');
    const name = i < 0 ? w : w.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw dockerfileError(ins.line, `ARG: invalid name ${JSON.stringify(name)}`);
    return i < 0 ? { name } : { name, def: w.slice(i + 1) };
  });
}

/** CMD / ENTRYPOINT / HEALTHCHECK CMD: exec form as written, shell form run by the stage's shell. */
export function execOrShell(json: string[] | undefined, text: string, shell: string[]): string[] {
  return json ?? [...shell, text];
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration ("30s", "1m30s", "500ms") in nanoseconds. */
export function parseDuration(ins: Instruction, flag: string, text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    matched += m[0].length;
  }
  if (text === '' || matched !== text.length)
    throw dockerfileError(
      ins.line,
      `HEALTHCHECK --${flag}: invalid duration ${JSON.stringify(text)} (e.g. 30s, 1m30s)`,
    );
  return Math.round(total);
}

export function parseHealthcheck(ins: Instruction, shell: string[]): Record<string, unknown> {
  const flags = flagsOf(ins, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
  const m = /^(\S+)\s*([\s\S]*)$/.exec(ins.args);
  const kind = m?.[1].toUpperCase();
  if (kind === 'NONE') {
    if (m![2].trim() || flags.size) throw dockerfileError(ins.line, 'HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD' || !m![2].trim()) throw dockerfileError(ins.line, 'HEALTHCHECK takes NONE or CMD and a command');
  const rest = m![2].trim();
  let json: string[] | undefined;
  if (rest.startsWith('[')) {
    try {
      const v = JSON.parse(rest) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) json = v;
    } catch {
      /* shell form */
    }
  }
  const hc: Record<string, unknown> = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', rest] };
  void shell;
  const dur = (name: string, key: string) => {
    const v = flags.get(name);
    if (v !== undefined) hc[key] = parseDuration(ins, name, v);
  };
  dur('interval', 'Interval');
  dur('timeout', 'Timeout');
  dur('start-period', 'StartPeriod');
  dur('start-interval', 'StartInterval');
  const retries = flags.get('retries');
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries))
      throw dockerfileError(ins.line, `HEALTHCHECK --retries: not a number: ${JSON.stringify(retries)}`);
    hc.Retries = Number(retries);
  }
  return hc;
}

/** EXPOSE 80 80/tcp 53/udp 8000-8002 → "80/tcp", … */
export function parsePorts(ins: Instruction, words: string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m)
      throw dockerfileError(ins.line, `EXPOSE: invalid port ${JSON.stringify(w)} (e.g. 80, 80/tcp, 53/udp, 8000-8010)`);
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    if (from < 1 || to > 65535 || to < from)
      throw dockerfileError(ins.line, `EXPOSE: invalid port range ${JSON.stringify(w)}`);
    for (let p = from; p <= to; p++) out.push(`${p}/${(m[3] ?? 'tcp').toLowerCase()}`);
  }
  return out;
}

export function parseChmod(ins: Instruction, text: string): number {
  if (!/^[0-7]{1,4}$/.test(text))
    throw dockerfileError(
      ins.line,
      `${ins.keyword} --chmod: expected an octal mode such as 755 or 0644, got ${JSON.stringify(text)}`,
    );
  return parseInt(text, 8);
}

/** --chown=user[:group]: the parts, numeric or names. */
export function parseChownSpec(ins: Instruction, text: string): { user: string; group?: string } {
  const [user, group, extra] = text.split(':');
  if (!user || extra !== undefined || group === '')
    throw dockerfileError(ins.line, `${ins.keyword} --chown: expected USER[:GROUP], got ${JSON.stringify(text)}`);
  return group === undefined ? { user } : { user, group };
}

const RUN_WHY =
  'regctl build runs no commands (there is no container runtime here); ' +
  'do that work in an earlier CI step and COPY its output, or start FROM an image that already has it';

/** Instructions that cannot be built without running anything. */
export function refuse(ins: Instruction): never {
  if (ins.keyword === 'RUN') throw dockerfileError(ins.line, `RUN cannot be built: ${RUN_WHY}`);
  throw dockerfileError(ins.line, `${ins.keyword} is not supported by regctl build`);
}

export function isUrl(src: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(src) || /^git@[^:]+:/.test(src);
}

export function refuseUrl(ins: Instruction, src: string): never {
  throw dockerfileError(
    ins.line,
    `ADD ${src}: regctl build reads only the build context and never downloads (no network fetches, nothing to run); ` +
      `download it into the context in an earlier step and COPY it`,
  );
}

/**
 * Splits instruction arguments into words on whitespace, keeping quotes and escapes for the later expansion
 * (Docker's parseWords, used for ENV/LABEL/ARG key=value lists).
 */
export function splitWords(rest: string, escape = '\\'): string[] {
  const words: string[] = [];
  const chars = [...rest];
  let word = '';
  let quote = '';
  let blankOk = false;
  let inWord = false;
  const push = () => {
    if (blankOk || word !== '') words.push(word);
    word = '';
    blankOk = false;
  };
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (!inWord && !quote) {
      if (/\s/.test(ch)) continue;
      inWord = true;
    }
    if (quote) {
      if (ch === quote) quote = '';
      else if (ch === escape && quote !== "'") {
        if (i + 1 === chars.length) continue;
        word += ch;
        word += chars[++i];
        continue;
      }
      word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      inWord = false;
      push();
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      blankOk = true;
    } else if (ch === escape) {
      if (i + 1 === chars.length) continue;
      word += ch;
      word += chars[++i];
      continue;
    }
    word += ch;
  }
  if (inWord || quote) push();
  return words;
}
