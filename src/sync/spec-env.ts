// `${NAME}` in a sync spec: only variables the spec's `env:` list (or `--env NAME`) allows are read, and the values
// read are remembered so that no error message shows one (a spec can come from anywhere; the environment holds
// secrets).

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variables a spec may read and the values it did read, for scrubbing them out of messages. */
export class SpecEnv {
  /** value → the `${NAME}` it came from */
  private readonly used = new Map<string, string>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    /** undefined: every variable (the library default); a set: only these */
    private readonly allowed?: ReadonlySet<string>,
  ) {}

  /** Replaces `${NAME}` and `${NAME:-default}`; `$${` is a literal `${`. `fail` gets a reason that holds no value. */
  expand(text: string, fail: (why: string) => never): string {
    return text.replace(/\$(\$)?\{([^}]*)\}/g, (whole, escaped: string | undefined, body: string) => {
      if (escaped) return whole.slice(1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(body);
      if (!m) {
        return fail(`invalid variable reference ${JSON.stringify(whole)} (expected \${NAME} or \${NAME:-default})`);
      }
      const name = m[1];
      if (this.allowed && !this.allowed.has(name)) {
        return fail(`\${${name}} is not allowed: list it under \`env:\` in the spec, or pass --env ${name}`);
      }
      const value = this.env[name];
      if (value !== undefined && value !== '') {
        // Values of one or two characters are not scrubbed from prose (that would garble it); errors quote the
        // spec's own text anyway.
        if (value.length >= 3) this.used.set(value, `\${${name}}`);
        return value;
      }
      if (m[2] !== undefined) return m[2];
      return fail(`environment variable ${name} is not set (used as ${whole})`);
    });
  }

  /** `message` with every value read from the environment replaced by its `${NAME}`. */
  scrub(message: string): string {
    let out = message;
    // Longest first, so a value containing another is replaced whole.
    const longestFirst = [...this.used].sort((a, b) => b[0].length - a[0].length);
    for (const [value, name] of longestFirst) out = out.split(value).join(name);
    return out;
  }
}

/** Replaces `${NAME}` and `${NAME:-default}` from `env` (every variable allowed); `$${` is a literal `${`. */
export function expandEnv(text: string, env: NodeJS.ProcessEnv, fail: (why: string) => never): string {
  return new SpecEnv(env).expand(text, fail);
}
