// Runs the built regctl in a real pseudo-terminal (python3's pty module: Node has none), answering prompts as a user.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeTempDir } from './lifecycle.js';
import { REGCTL_BIN } from './run-cli.js';

const run = promisify(execFile);

// Forks a child on a pty (stdin, stdout and stderr all the terminal, COLS columns), waits for each step's
// pattern in what the terminal shows since the previous step and types its answer; prints {code, output} as JSON.
const SCRIPT = String.raw`
import fcntl, json, os, pty, re, select, struct, sys, termios, time
steps = json.loads(os.environ.pop('PTY_STEPS'))
cols = int(os.environ.pop('PTY_COLS'))
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, cols, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
out = b''
mark = 0
deadline = time.time() + 60
while time.time() < deadline:
    if steps and re.search(steps[0][0].encode(), out[mark:]):
        os.write(fd, steps[0][1].encode())
        mark = len(out)
        steps.pop(0)
        continue
    r, _, _ = select.select([fd], [], [], 0.5)
    if not r:
        continue
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps({'code': code, 'output': out.decode('utf-8', 'replace'), 'unanswered': [s[0] for s in steps]}))
`;

export interface PtyResult {
  code: number;
  /** everything the terminal showed (stdout and stderr together, CR LF line ends) */
  output: string;
  /** the patterns of steps never reached */
  unanswered: string[];
}

export interface PtyOptions {
  /** each: [regex source to wait for, text to type] */
  steps?: Array<[string, string]>;
  /** the terminal's width (80) */
  cols?: number;
  /** extra environment; without HOME, a temp HOME; DOCKER_CONFIG and XDG_CONFIG_HOME are in HOME unless given */
  env?: Record<string, string>;
  cwd?: string;
}

/** Variables of the developer's shell (or CI) that would change what the CLI does. */
const SCRUB = /^(REGCTL_|DOCKER_|AWS_|XDG_|CI$|NO_COLOR$|FORCE_COLOR$|HTTPS?_PROXY$|https?_proxy$|NO_PROXY$|no_proxy$)/;

/** `regctl ARGS` on a pty: a terminal as a user has one (not CI, colours allowed). */
export async function runOnPty(args: string[], opts: PtyOptions = {}): Promise<PtyResult> {
  const tempHome = opts.env?.HOME === undefined ? await makeTempDir('pty-home') : undefined;
  const home = opts.env?.HOME ?? tempHome!;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUB.test(k)) env[k] = v;
  Object.assign(env, { HOME: home, DOCKER_CONFIG: join(home, '.docker'), XDG_CONFIG_HOME: join(home, '.config') });
  Object.assign(env, { TERM: 'xterm', PTY_STEPS: JSON.stringify(opts.steps ?? []), PTY_COLS: String(opts.cols ?? 80) });
  Object.assign(env, opts.env ?? {});
  const argv = ['-c', SCRIPT, process.execPath, REGCTL_BIN, ...args];
  try {
    const { stdout } = await run('python3', argv, { env, cwd: opts.cwd, timeout: 90_000, maxBuffer: 16 << 20 });
    return JSON.parse(stdout) as PtyResult;
  } finally {
    if (tempHome) await removeTempDir(tempHome);
  }
}
