// Runs the built regctl on a real pseudo-terminal (python3's pty module, test/support/pty-run.py: Node has none): what
// a user at a terminal sees, and keys typed into it (Ctrl-C as the byte 0x03, which only the terminal turns into
// SIGINT; answers to prompts). Two call styles over one process: startPty (drive it live) and runOnPty (a dialog of
// steps, then the result).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { killChild, makeTempDir, removeTempDir, trackChild } from './lifecycle.js';
import { REGCTL_BIN, SCRUB } from './run-cli.js';

const PTY_RUN = fileURLToPath(new URL('./pty-run.py', import.meta.url));

export interface PtyResult {
  /** the exit status of regctl */
  code: number;
  /** everything written to the terminal (stdout and stderr together, with its escape codes and \r\n) */
  output: string;
  /** `stty -a` of the terminal after regctl ended */
  sttyAfter: string;
}

export interface PtyProcess {
  output(): string;
  /** types Ctrl-C into the terminal */
  ctrlC(): void;
  /** types `text` into the terminal (`'y\r'`: a key and Enter) */
  type(text: string): void;
  /** resolves when the terminal shows more, or regctl has ended (then `ended()` is true) */
  more(): Promise<void>;
  ended(): boolean;
  /** resizes the terminal, as a window resized does (regctl gets SIGWINCH) */
  resize(cols: number, rows: number): void;
  /** `stty -a` of the terminal now, while regctl runs */
  stty(): Promise<string>;
  result: Promise<PtyResult>;
}

/** Start `regctl ARGS` on a COLS×ROWS terminal, with a fresh HOME (unless env.HOME is given), not in CI. */
export interface PtyOptions {
  /** added to the environment; `undefined` removes a variable (NO_COLOR, set unless `color`) */
  env?: Record<string, string | undefined>;
  cols?: number;
  rows?: number;
  cwd?: string;
  /** TERM; default xterm-256color */
  term?: string;
  /** leave NO_COLOR unset (colours allowed); default: NO_COLOR=1 */
  color?: boolean;
  /** kill and fail after this long; default 60 s */
  timeoutMs?: number;
}

export async function startPty(args: string[], opts: PtyOptions = {}): Promise<PtyProcess> {
  const tempHome = opts.env?.HOME === undefined ? await makeTempDir('pty-home') : undefined;
  const home = opts.env?.HOME ?? tempHome!;
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !SCRUB.test(k) && k !== 'CI' && k !== 'NO_COLOR') env[k] = v;
  }
  const config = { DOCKER_CONFIG: join(home, '.docker'), XDG_CONFIG_HOME: join(home, '.config') };
  Object.assign(env, { HOME: home, ...config, TERM: opts.term ?? 'xterm-256color' });
  if (!opts.color) env.NO_COLOR = '1';
  Object.assign(env, opts.env);
  const cols = String(opts.cols ?? 100);
  const rows = String(opts.rows ?? 30);
  const argv = [PTY_RUN, cols, rows, process.execPath, REGCTL_BIN, ...args];
  const child = spawn('python3', argv, { env, cwd: opts.cwd, stdio: 'pipe' });
  trackChild(child);
  let output = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    output += d;
    for (const w of waiters.splice(0)) w();
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let closed = false;
  const result = new Promise<PtyResult>((resolve, reject) => {
    const timer = setTimeout(() => void killChild(child, 0), opts.timeoutMs ?? 60_000);
    child.once('close', () => {
      closed = true;
      for (const w of waiters.splice(0)) w();
      clearTimeout(timer);
      void (tempHome ? removeTempDir(tempHome) : Promise.resolve()).then(() => {
        const exit = /\n@@EXIT (-?\d+)\n@@STTY-AFTER (.*)\n$/.exec(output);
        if (!exit) return reject(new Error(`pty-run ended without a status\noutput: ${output}\nstderr: ${stderr}`));
        resolve({ code: Number(exit[1]), output: output.slice(0, exit.index), sttyAfter: exit[2] });
      }, reject);
    });
  });
  const more = (): Promise<void> => (closed ? Promise.resolve() : new Promise<void>((r) => waiters.push(r)));
  let asked = 0;
  return {
    output: () => output,
    ctrlC: () => child.stdin.write('ctrl-c\n'),
    type: (text) => child.stdin.write(`type ${JSON.stringify(text)}\n`),
    more,
    ended: () => closed,
    resize: (c, r) => child.stdin.write(`resize ${c} ${r}\n`),
    async stty() {
      const n = ++asked;
      child.stdin.write('stty\n');
      for (;;) {
        const all = [...output.matchAll(/\n@@STTY-NOW (.*)\n/g)];
        if (all.length >= n) return all[n - 1][1];
        if (closed) throw new Error(`regctl ended before stty answered\noutput: ${output}`);
        await more();
      }
    },
    result,
  };
}

export interface DialogResult {
  code: number;
  /** everything the terminal showed (stdout and stderr together, CR LF line ends) */
  output: string;
  /** the patterns of steps never reached */
  unanswered: string[];
}

/**
 * `regctl ARGS` on a pty as a user has one (TERM=xterm, colours allowed, 80×24 unless given): waits for each step's
 * pattern (a regex source) in what the terminal shows since the previous step and types its answer.
 */
export async function runOnPty(
  args: string[],
  opts: PtyOptions & { steps?: Array<[string, string]> } = {},
): Promise<DialogResult> {
  const { steps: given, ...rest } = opts;
  const p = await startPty(args, { term: 'xterm', color: true, cols: 80, rows: 24, ...rest });
  const steps = [...(given ?? [])];
  let mark = 0;
  while (steps.length && !p.ended()) {
    if (new RegExp(steps[0][0]).test(p.output().slice(mark))) {
      p.type(steps.shift()![1]);
      mark = p.output().length;
      continue;
    }
    await p.more();
  }
  const r = await p.result;
  return { code: r.code, output: r.output, unanswered: steps.map((s) => s[0]) };
}

/** Whether `stty -a` output shows a setting on (`isig`) rather than off (`-isig`). */
export function sttyHas(stty: string, flag: string): boolean {
  return stty.split(/[\s;]+/).includes(flag);
}
