// Variable expansion and word splitting as Docker's shell lexer does them: $VAR, ${VAR}, ${VAR:-x}, ${VAR:+x}, quotes,
// escapes.

export type Env = ReadonlyMap<string, string>;

export class ExpandError extends Error {}

interface Result {
  text: string;
  words: string[];
}

/** Collects the words of an expansion: characters from variables split on whitespace, quoted text kept whole. */
class Words {
  readonly list: string[] = [];
  private word = '';
  private inWord = false;

  addChar(ch: string): void {
    if (/\s/.test(ch)) {
      if (this.inWord && this.word !== '') {
        this.list.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }

  addRaw(text: string): void {
    this.word += text;
    this.inWord = true;
  }

  addSplit(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  done(): string[] {
    if (this.word !== '') this.list.push(this.word);
    this.word = '';
    return this.list;
  }
}

class Lexer {
  private pos = 0;
  private readonly chars: string[];

  constructor(
    text: string,
    private readonly env: Env,
    private readonly escape: string,
  ) {
    this.chars = [...text];
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  /** Reads until `stop` (consumed) or the end; `raw` keeps escape characters (pattern operands). */
  run(stop?: string, raw = false): Result {
    let text = '';
    const words = new Words();
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) break;
      if (stop !== undefined && ch === stop) {
        this.next();
        return { text, words: words.done() };
      }
      if (ch === '$') {
        const v = this.dollar();
        text += v;
        words.addSplit(v);
      } else if (ch === "'") {
        const v = this.single();
        text += v;
        words.addRaw(v);
      } else if (ch === '"') {
        const v = this.double();
        text += v;
        words.addRaw(v);
      } else {
        this.next();
        if (ch === this.escape) {
          if (raw) {
            text += ch;
            words.addRaw(ch);
          }
          const escaped = this.next();
          if (escaped === undefined) break;
          text += escaped;
          words.addRaw(escaped);
        } else {
          text += ch;
          words.addChar(ch);
        }
      }
    }
    if (stop !== undefined) throw new ExpandError(`unexpected end of text while looking for matching ${stop}`);
    return { text, words: words.done() };
  }

  private single(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new ExpandError('unexpected end of text while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  private double(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new ExpandError('unexpected end of text while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.next();
      if (ch === this.escape) {
        const after = this.peek();
        if (after === undefined) continue;
        if (after === '"' || after === '$' || after === this.escape) {
          out += this.next();
          continue;
        }
      }
      out += ch;
    }
  }

  private name(): string {
    let name = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) break;
      if (name === '' && /[0-9]/.test(ch)) {
        while (this.peek() !== undefined && /[0-9]/.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) return this.next()!;
      if (!/[\p{L}\p{N}_]/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }

  private lookup(name: string): string | undefined {
    return this.env.get(name);
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : (this.lookup(name) ?? '');
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new ExpandError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ExpandError('syntax error: bad substitution');
    const name = this.name();
    let op = this.next();
    if (op === '}') return this.lookup(name) ?? '';
    let nullIsUnset = false;
    if (op === ':') {
      nullIsUnset = true;
      op = this.next();
    }
    if (op === undefined) throw new ExpandError("syntax error: missing '}'");
    if (op === '-' || op === '+' || op === '?' || op === '#' || op === '%') {
      const word = this.run('}', op === '#' || op === '%').text;
      const value = this.lookup(name);
      const empty = value === undefined || (nullIsUnset && value === '');
      switch (op) {
        case '-':
          return empty ? word : value;
        case '+':
          return empty ? '' : word;
        case '?':
          if (empty)
            throw new ExpandError(
              `${name}: ${word || (value === undefined ? 'is not allowed to be unset' : 'is not allowed to be empty')}`,
            );
          return value;
        default:
          return trim(value ?? '', word, op);
      }
    }
    if (op === '/' && !nullIsUnset) {
      const all = this.peek() === '/';
      if (all) this.next();
      const pattern = this.run('/', true).text;
      const replacement = this.run('}', true).text;
      const value = this.lookup(name) ?? '';
      const re = patternRegex(pattern, true, false, all);
      return value.replace(re, () => replacement);
    }
    throw new ExpandError(`unsupported modifier (${nullIsUnset ? ':' : ''}${op}) in substitution`);
  }
}

/** A shell pattern (`*`, `?`, `\` escapes) as a regular expression. */
function patternRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  let out = anchored ? '^' : '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '*') out += greedy ? '.*' : '.*?';
    else if (ch === '?') out += '.';
    else if (ch === '\\' && i + 1 < chars.length) out += escapeRegex(chars[++i]);
    else out += escapeRegex(ch);
  }
  return new RegExp(out, global ? 'gsu' : 'su');
}

function escapeRegex(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function trim(value: string, word: string, op: '#' | '%'): string {
  let greedy = false;
  if (word.startsWith(op)) {
    greedy = true;
    word = word.slice(1);
  }
  if (op === '#') {
    const m = patternRegex(word, greedy, true).exec(value);
    return m ? value.slice(m[0].length) : value;
  }
  // Suffix: try every start position, shortest match first unless greedy.
  const re = patternRegex(word, true, true);
  const starts = [...Array(value.length + 1).keys()];
  for (const i of greedy ? starts : starts.reverse()) {
    const rest = value.slice(i);
    const m = re.exec(rest);
    if (m && m[0].length === rest.length) return value.slice(0, i);
  }
  return value;
}

/** Expands one word (quotes removed, escapes applied, variables substituted), as Docker's ProcessWord. */
export function expandWord(word: string, env: Env, escape = '\\'): string {
  return new Lexer(word, env, escape).run().text;
}

/** Expands and splits on whitespace (text from variables splits, quoted text does not), as Docker's ProcessWords. */
export function expandWords(word: string, env: Env, escape = '\\'): string[] {
  return new Lexer(word, env, escape).run().words;
}
