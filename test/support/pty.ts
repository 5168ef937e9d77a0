// Runs the built regctl on a real pseudo-terminal (python3's pty module, test/support/pty-run.py): what a user at a
// terminal sees, and keys typed into it (Ctrl-C as the byte 0x03, which only the terminal turns into SIGINT).
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
  /** resizes the terminal, as a window resized does (regctl gets SIGWINCH) */
  resize(cols: number, rows: number): void;
  /** `stty -a` of the terminal now, while regctl runs */
  stty(): Promise<string>;
  result: Promise<PtyResult>;
}

/** Start `regctl ARGS` on a COLS×ROWS terminal, with a fresh HOME, not in CI (so the live view is drawn). */
export interface PtyOptions {
  /** added to the environment; `undefined` removes a variable (NO_COLOR, set by default) */
  env?: Record<string, string | undefined>;
  cols?: number;
  rows?: number;
  /** kill and fail after this long; default 60 s */
  timeoutMs?: number;
}

export async function startPty(args: string[], opts: PtyOptions = {}): Promise<PtyProcess> {
  const home = await makeTempDir('pty-home');
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUB.test(k) && k !== 'CI') env[k] = v;
  const config = { DOCKER_CONFIG: join(home, '.docker'), XDG_CONFIG_HOME: join(home, '.config') };
  Object.assign(env, { HOME: home, ...config, TERM: 'xterm-256color', NO_COLOR: '1' }, opts.env);
  const cols = String(opts.cols ?? 100);
  const rows = String(opts.rows ?? 30);
  const child = spawn('python3', [PTY_RUN, cols, rows, process.execPath, REGCTL_BIN, ...args], { env, stdio: 'pipe' });
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
      void removeTempDir(home).then(() => {
        const exit = /\n@@EXIT (-?\d+)\n@@STTY-AFTER (.*)\n$/.exec(output);
        if (!exit) return reject(new Error(`pty-run ended without a status\noutput: ${output}\nstderr: ${stderr}`));
        resolve({ code: Number(exit[1]), output: output.slice(0, exit.index), sttyAfter: exit[2]! });
      }, reject);
    });
  });
  let asked = 0;
  return {
    output: () => output,
    ctrlC: () => child.stdin.write('ctrl-c\n'),
    resize: (c, r) => child.stdin.write(`resize ${c} ${r}\n`),
    async stty() {
      const n = ++asked;
      child.stdin.write('stty\n');
      for (;;) {
        const all = [...output.matchAll(/\n@@STTY-NOW (.*)\n/g)];
        if (all.length >= n) return all[n - 1]![1]!;
        if (closed) throw new Error(`regctl ended before stty answered\noutput: ${output}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    result,
  };
}

/** Whether `stty -a` output shows a setting on (`isig`) rather than off (`-isig`). */
export function sttyHas(stty: string, flag: string): boolean {
  return stty.split(/[\s;]+/).includes(flag);
}
