// Dockerfile parser: parser directives, comments, line continuations, flags, exec (JSON) and shell forms, and stages.
import { UsageError } from '../errors.js';

export interface Flag {
  name: string;
  /** undefined for a bare `--flag` */
  value?: string;
}

export interface Instruction {
  /** Upper case: FROM, COPY, … */
  keyword: string;
  /** 1-based line of the instruction's first line. */
  line: number;
  flags: Flag[];
  /** The arguments after the flags, continuation lines joined, trimmed. */
  args: string;
  /** Set when the arguments are a JSON array of strings (exec form). */
  json?: string[];
  /** The instruction as written, continuation lines joined (for history and messages). */
  original: string;
}

export interface Dockerfile {
  escape: string;
  syntax?: string;
  instructions: Instruction[];
}

export interface StageDef {
  index: number;
  /** Lower-cased `AS` name. */
  name?: string;
  from: Instruction;
  body: Instruction[];
}

export interface StagedDockerfile extends Dockerfile {
  /** ARG instructions before the first FROM. */
  globalArgs: Instruction[];
  stages: StageDef[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const FORMS_WITH_JSON = new Set(['CMD', 'ENTRYPOINT', 'RUN', 'SHELL', 'COPY', 'ADD', 'VOLUME']);

export function dockerfileError(line: number | undefined, message: string, hint?: string): UsageError {
  return new UsageError(`Dockerfile${line ? `:${line}` : ''}: ${message}`, hint);
}

/** Leading `--name[=value]` flags; values may be quoted. */
function extractFlags(rest: string): { flags: Flag[]; rest: string } {
  const flags: Flag[] = [];
  let s = rest;
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?(?:\s+|$)/.exec(s);
    if (!m) break;
    let value = m[2];
    if (
      value !== undefined &&
      value.length >= 2 &&
      (value[0] === '"' || value[0] === "'") &&
      value.endsWith(value[0])
    ) {
      value = value.slice(1, -1);
    }
    flags.push({ name: m[1].toLowerCase(), value });
    s = s.slice(m[0].length);
  }
  return { flags, rest: s };
}

function maybeJson(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    /* shell form */
  }
  return undefined;
}

/** Parses one instruction line (continuations already joined). */
export function parseInstruction(text: string, line: number): Instruction {
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) throw dockerfileError(line, 'empty instruction');
  const keyword = m[1].toUpperCase();
  if (!/^[A-Z]+$/.test(keyword)) throw dockerfileError(line, `unknown instruction: ${m[1]}`);
  const { flags, rest } = extractFlags((m[2] ?? '').trim());
  const args = rest.trim();
  const ins: Instruction = { keyword, line, flags, args, original: `${keyword}${m[2] ? ` ${m[2].trim()}` : ''}` };
  if (FORMS_WITH_JSON.has(keyword)) {
    const json = maybeJson(args);
    if (json) ins.json = json;
  }
  return ins;
}

/** Parses Dockerfile text into instructions. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  let syntax: string | undefined;
  let i = 0;
  const seen = new Set<string>();
  // Parser directives: only at the very top, before any comment, blank line or instruction.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) continue;
    if (seen.has(key)) throw dockerfileError(i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`')
        throw dockerfileError(i + 1, `invalid escape token '${m[2]}' does not match ` + '` or \\');
      escape = m[2];
    } else if (key === 'syntax') syntax = m[2];
  }
  const continuation = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const instructions: Instruction[] = [];
  for (; i < lines.length; i++) {
    const first = lines[i].trimStart();
    if (first === '' || first.startsWith('#')) continue;
    const start = i;
    let text = first;
    while (continuation.test(text)) {
      text = text.replace(continuation, '');
      // Comment and empty lines inside a continued instruction are skipped, as Docker does.
      let next: string | undefined;
      while (++i < lines.length) {
        const l = lines[i];
        if (l.trimStart().startsWith('#') || l.trim() === '') continue;
        next = l;
        break;
      }
      if (next === undefined) break;
      text += next;
    }
    if (/^(COPY|ADD)\s/i.test(text) && /(^|\s)<<-?["']?[A-Za-z_]/.test(text)) {
      throw dockerfileError(
        start + 1,
        'heredocs (<<EOF) are not supported',
        'put the content in a file in the build context and COPY it',
      );
    }
    instructions.push(parseInstruction(text, start + 1));
  }
  return { escape, syntax, instructions };
}

/** Groups instructions into stages: global ARGs, then one stage per FROM. */
export function toStages(df: Dockerfile): StagedDockerfile {
  const globalArgs: Instruction[] = [];
  const stages: StageDef[] = [];
  for (const ins of df.instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/).filter(Boolean);
      if (words.length !== 1 && !(words.length === 3 && words[1].toLowerCase() === 'as')) {
        throw dockerfileError(ins.line, 'FROM takes an image and an optional `AS name`');
      }
      const name = words[2]?.toLowerCase();
      if (name !== undefined) {
        if (!/^[a-z][a-z0-9-_.]*$/.test(name))
          throw dockerfileError(ins.line, `invalid stage name ${JSON.stringify(words[2])}`);
        if (stages.some((s) => s.name === name))
          throw dockerfileError(ins.line, `duplicate stage name ${JSON.stringify(name)}`);
      }
      stages.push({ index: stages.length, name, from: ins, body: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG')
        throw dockerfileError(ins.line, `${ins.keyword} before the first FROM: only ARG may come first`);
      globalArgs.push(ins);
    } else stages[stages.length - 1].body.push(ins);
  }
  if (stages.length === 0) throw dockerfileError(undefined, 'no FROM instruction');
  return { ...df, globalArgs, stages };
}
