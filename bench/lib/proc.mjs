// Running and timing one command.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const TIME_BIN = '/usr/bin/time';
/** CPU time (user + sys, ms) a live process has used so far, from /proc/PID/stat (0 when it cannot be read). */
export function procCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

export const HAVE_GNU_TIME = (() => {
  if (process.env.BENCH_NO_GNU_TIME === '1') return false; // force the /proc fallback
  try {
    fs.accessSync(TIME_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

let current = null;

/** Kill the command in flight, if any (for SIGINT). */
export function killCurrent() {
  if (current) {
    try {
      current.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

function readHwmKB(pid) {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs argv[0] with argv[1..]; resolves { ms, code, signal, ok, stdout, stderr, rssKB, cpuMs }.
 * ms is the wall time from spawn to exit. With GNU time, every command runs under it: cpuMs is the command's own
 * user + system time (%U + %S from wait4's rusage: the process and the children it waited for; 10 ms resolution),
 * and with { rss: true } rssKB its peak RSS (%M). Without GNU time cpuMs is null and the peak RSS is found by
 * polling /proc/PID/status VmHWM of the direct process. { cpu: false } (startup timing) runs the command directly.
 */
export async function runTimed(argv, { env, cwd, rss = false, cpu = true, timeoutMs = 30 * 60 * 1000 } = {}) {
  let cmd = argv[0];
  let args = argv.slice(1);
  let rssFile = null;
  if (HAVE_GNU_TIME && (cpu || rss)) {
    const unique = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    rssFile = path.join(os.tmpdir(), `regctl-bench-rss-${unique}`);
    args = ['-f', '%U %S %M', '-o', rssFile, cmd, ...args];
    cmd = TIME_BIN;
  }
  const cap = (stream, max) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
      buf += d;
      if (buf.length > 2 * max) buf = buf.slice(-max);
    });
    return () => buf.slice(-max);
  };
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  current = child;
  const out = cap(child.stdout, 4000);
  const err = cap(child.stderr, 4000);
  let hwm = 0;
  let poll = null;
  if (rss && !HAVE_GNU_TIME) {
    poll = setInterval(() => {
      hwm = Math.max(hwm, readHwmKB(child.pid));
    }, 20);
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal, spawnError] = await new Promise((resolve) => {
    child.on('error', (e) => resolve([null, null, e]));
    child.on('close', (c, s) => resolve([c, s, null]));
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  clearTimeout(timer);
  if (poll) clearInterval(poll);
  current = null;
  let rssKB = null;
  let cpuMs = null;
  if (rssFile) {
    try {
      const text = await fsp.readFile(rssFile, 'utf8');
      // GNU time prints "Command exited with non-zero status N" before the format on failure.
      const lines = text.trim().split('\n');
      const [user, sys, maxKB] = lines[lines.length - 1].split(' ').map(Number);
      if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = Math.round((user + sys) * 1000);
      if (rss) rssKB = maxKB || null;
    } catch {
      /* no output */
    }
    await fsp.rm(rssFile, { force: true });
  } else if (rss) {
    rssKB = hwm || null;
  }
  const stderr = spawnError ? String(spawnError.message) : err();
  return { ms, code, signal, ok: code === 0, stdout: out(), stderr, rssKB, cpuMs };
}
