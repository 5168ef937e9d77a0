#!/usr/bin/env node
// regctl benchmark: regctl vs skopeo between two local registries.
//
//   node bench/run.mjs [CASE...]      (no CASE: all cases; --list: list them)
//   BENCH_RUNS=N          runs per tool per mode (default: per case, 3 for big, 5 otherwise)
//   BENCH_STARTUP_RUNS=N  runs of `node -e 0` and `regctl --version` (default 10)
//   REGCTL_BIN="CMD ..."  the regctl command, split on whitespace (default: node bin/regctl)
//   BENCH_STRICT=1        exit 1 when a target is missed
//   BENCH_TMPDIR=DIR      scratch/destination-registry storage (default /dev/shm if tmpfs, else $TMPDIR)
//   BENCH_SYNC=0          skip the `sync` before each timed run
//
// See bench/README.md.
import fsp from 'node:fs/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CASES } from './cases.mjs';
import { startRegistry, killAllRegistriesSync } from './lib/registry.mjs';
import { runTimed, killCurrent, procCpuMs, HAVE_GNU_TIME } from './lib/proc.mjs';
import { REPO_DIR, WORK_DIR, median, log, splitCommand, fmtSec, fmtMs } from './lib/util.mjs';

const STARTUP_TARGET_MS = 30;
const RSS_TARGET_MB = 150;

function usage() {
  return `usage: node bench/run.mjs [--list] [CASE...]\ncases: ${CASES.map((c) => c.name).join(', ')}\n`;
}

function parseArgs(argv) {
  const names = [];
  for (const a of argv) {
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage());
      process.exit(0);
    } else if (a === '--list') {
      for (const c of CASES) process.stdout.write(`${c.name.padEnd(16)} ${c.description ?? ''}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) {
      process.stderr.write(`unknown option ${a}\n${usage()}`);
      process.exit(2);
    } else {
      names.push(a);
    }
  }
  const unknown = names.filter((n) => !CASES.some((c) => c.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown case(s): ${unknown.join(', ')}\n${usage()}`);
    process.exit(2);
  }
  return names.length ? CASES.filter((c) => names.includes(c.name)) : CASES;
}

function positiveInt(name) {
  const v = process.env[name];
  if (v == null || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function toolVersion(argv) {
  const r = await runTimed(argv);
  return r.ok
    ? (r.stdout.trim() || r.stderr.trim()).split('\n')[0]
    : `unavailable (${r.stderr.trim().split('\n').pop()})`;
}

function summarize(runs) {
  const good = runs.filter((r) => r.ok);
  return {
    medianMs: median(good.map((r) => r.ms)),
    cpuMedianMs: median(good.map((r) => r.cpuMs)),
    othersCpuMedianMs: median(good.map((r) => r.othersCpuMs)),
    // The least wall time the machine's cores allow for the run: every process's CPU time over the core count.
    cpuFloorMedianMs: median(good.map((r) => (r.cpuMs == null ? null : (r.cpuMs + r.othersCpuMs) / os.cpus().length))),
    roundTripsMedian: median(good.map((r) => r.roundTrips)),
    connectionsMedian: median(good.map((r) => r.connections)),
    okRuns: good.length,
    failedRuns: runs.length - good.length,
    peakRssKB: runs.some((r) => r.rssKB) ? Math.max(...runs.map((r) => r.rssKB ?? 0)) : null,
    runs,
    firstError: runs.find((r) => !r.ok)?.error ?? null,
  };
}

function evaluate(target, regctlMs, skopeoMs, nodeMs) {
  if (regctlMs == null) return { pass: false, limitMs: null };
  if (target.type === 'ratio') {
    if (skopeoMs == null) return { pass: false, limitMs: null };
    return { pass: regctlMs / skopeoMs <= target.max, limitMs: target.max * skopeoMs };
  }
  if (target.type === 'overNode') {
    if (nodeMs == null) return { pass: false, limitMs: null };
    return { pass: regctlMs <= nodeMs + target.ms, limitMs: nodeMs + target.ms };
  }
  throw new Error(`unknown target type ${target.type}`);
}

/**
 * Where the destination registry's storage (and other per-run scratch) goes: BENCH_TMPDIR if
 * set, else /dev/shm when it is a tmpfs with room (a disk's writeback of the previous run's
 * gigabyte made the big case vary by ±20% here; on tmpfs by ±3%), else os.tmpdir().
 */
function scratchBase() {
  if (process.env.BENCH_TMPDIR) return process.env.BENCH_TMPDIR;
  try {
    const st = fs.statfsSync('/dev/shm');
    if (st.type === 0x01021994 && st.bavail * st.bsize >= 4 * 2 ** 30) {
      fs.accessSync('/dev/shm', fs.constants.W_OK);
      return '/dev/shm';
    }
  } catch {
    /* no usable /dev/shm */
  }
  return os.tmpdir();
}

async function main() {
  const selected = parseArgs(process.argv.slice(2));
  const runsOverride = positiveInt('BENCH_RUNS');
  const startupRuns = positiveInt('BENCH_STARTUP_RUNS') ?? 10;
  const strict = process.env.BENCH_STRICT === '1';
  const regctlCmd = process.env.REGCTL_BIN
    ? splitCommand(process.env.REGCTL_BIN)
    : [process.execPath, path.join(REPO_DIR, 'bin', 'regctl')];
  if (!process.env.REGCTL_BIN && !fs.existsSync(path.join(REPO_DIR, 'dist', 'cli.js'))) {
    log('warning: dist/cli.js is missing; run `npm run bench` (builds first) or `npm run build`');
  }

  await fsp.mkdir(WORK_DIR, { recursive: true });
  const tmpDir = await fsp.mkdtemp(path.join(scratchBase(), 'regctl-bench-'));
  const registries = [];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    killCurrent();
    await Promise.allSettled(registries.map((r) => r.stop()));
    await fsp.rm(tmpDir, { recursive: true, force: true });
  };
  let aborted = false;
  const onSignal = (sig) => {
    aborted = true;
    log(`${sig}: stopping`);
    // Exit 130 whether the clean-up worked or not: process.exit runs first, so a rejection has nowhere to go.
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    killAllRegistriesSync();
    try {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  });

  try {
    // skopeo keeps a blob-info cache (as root in /var/lib/containers/cache) that remembers
    // where blobs were pushed and would let later "fresh" runs mount them from an earlier
    // run's repository. Each fresh skopeo run gets its own empty cache instead, like a clean
    // CI runner; regctl keeps no such state. (_CONTAINERS_ROOTLESS_UID makes skopeo honor
    // XDG_DATA_HOME when running as root.)
    let skopeoN = 0;
    const skopeoEnv = async (label) => {
      const dir = path.join(tmpDir, 'skopeo-cache', `${String(skopeoN++).padStart(3, '0')}-${label}`);
      await fsp.mkdir(dir, { recursive: true });
      const env = { ...process.env, XDG_DATA_HOME: dir };
      if (process.geteuid?.() === 0) env._CONTAINERS_ROOTLESS_UID = '65534';
      return env;
    };

    if (os.loadavg()[0] > os.cpus().length / 2) {
      log(
        `warning: load average ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} CPU(s): other work will add noise`,
      );
    }
    const src = await startRegistry({ name: 'src', root: path.join(WORK_DIR, 'registry-src'), stateDir: tmpDir });
    registries.push(src);
    const dst = await startRegistry({ name: 'dst', root: path.join(tmpDir, 'registry-dst'), stateDir: tmpDir });
    registries.push(dst);
    const runId = `run${Date.now().toString(36)}`;
    const ctx = { src, dst, runId, tmpDir, skopeoEnv };

    const results = {
      date: new Date().toISOString(),
      machine: {
        loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
        platform: `${os.platform()} ${os.release()}`,
      },
      versions: {
        node: process.version,
        regctl: await toolVersion([...regctlCmd, '--version']),
        skopeo: await toolVersion(['skopeo', '--version']),
        registry: await toolVersion(['docker-registry', '--version']),
      },
      regctlCommand: regctlCmd.join(' '),
      scratchDir: path.dirname(tmpDir),
      rssMethod: HAVE_GNU_TIME ? '/usr/bin/time -f %M' : '/proc/PID/status VmHWM polling',
      startup: null,
      cases: [],
      rss: null,
    };

    // --- startup: node -e 0 vs regctl --version -------------------------------------------
    log(`startup: node -e 0 vs ${regctlCmd.join(' ')} --version, ${startupRuns} runs each`);
    const nodeRuns = [];
    const versionRuns = [];
    const direct = { cpu: false }; // no GNU time in between: this is about milliseconds
    await runTimed([process.execPath, '-e', '0'], direct); // warm-up
    await runTimed([...regctlCmd, '--version'], direct);
    for (let i = 0; i < startupRuns; i++) {
      const a = await runTimed([process.execPath, '-e', '0'], direct);
      nodeRuns.push({ ms: a.ms, ok: a.ok });
      const b = await runTimed([...regctlCmd, '--version'], direct);
      versionRuns.push({ ms: b.ms, ok: b.ok, ...(b.ok ? {} : { error: b.stderr.trim().slice(-500) }) });
    }
    const nodeMs = median(nodeRuns.map((r) => r.ms));
    const versionSummary = summarize(versionRuns);
    const versionMs = versionSummary.medianMs;
    results.startup = {
      nodeMedianMs: nodeMs,
      regctlVersionMedianMs: versionMs,
      deltaMs: versionMs == null ? null : versionMs - nodeMs,
      targetDeltaMs: STARTUP_TARGET_MS,
      pass: versionMs != null && versionSummary.failedRuns === 0 && versionMs - nodeMs <= STARTUP_TARGET_MS,
      nodeRuns: nodeRuns.map((r) => +r.ms.toFixed(2)),
      regctlRuns: versionRuns.map((r) => (r.ok ? +r.ms.toFixed(2) : null)),
      ...(versionSummary.firstError ? { error: versionSummary.firstError } : {}),
    };

    // --- cases ------------------------------------------------------------------------------
    const tools = {
      regctl: (c, s, d) => [...regctlCmd, ...c.regctl(ctx, s, d)],
      // A case may compare against another tool than skopeo (build: buildah): its `peer.argv` is the whole command.
      skopeo: (c, s, d) => (c.peer ? c.peer.argv(ctx, s, d) : ['skopeo', ...c.skopeo(ctx, s, d)]),
    };
    const skopeoEnvs = new WeakMap();
    const runOne = async (c, state, tool, dest, { rss = false } = {}) => {
      if (aborted) throw new Error('interrupted');
      const argv = tools[tool](c, state, dest);
      // skopeo: a new blob-info cache per destination, reused when copying to it again
      // (a re-copy sees the cache its first copy left, as a user's second run would).
      let env = process.env;
      // A case may give regctl its own environment per destination (build: a fresh user cache per fresh run).
      if (tool === 'regctl' && c.regctlEnv) env = c.regctlEnv(ctx, state, dest);
      if (tool === 'skopeo' && !c.peer) {
        env =
          skopeoEnvs.get(dest) ??
          (await skopeoEnv(
            `${c.name}-${String(dest.repo ?? dest.path ?? '')
              .split('/')
              .pop()}`,
          ));
        skopeoEnvs.set(dest, env);
      }
      if (process.env.BENCH_SYNC !== '0') await runTimed(['sync'], { cpu: false }); // no dirty pages pending
      // A case that reaches the registries through latency proxies: they count this run's round trips and connections.
      const proxies = state.proxies ?? [];
      for (const p of proxies) p.reset();
      // What the rest of the machine spent on the run: both registries, and this process (the latency proxies).
      const othersCpu = () => {
        const own = process.cpuUsage();
        return procCpuMs(ctx.src.proc.pid) + procCpuMs(ctx.dst.proc.pid) + (own.user + own.system) / 1000;
      };
      const others0 = othersCpu();
      const r = await runTimed(argv, { env, rss });
      const othersMs = othersCpu() - others0;
      if (aborted) throw new Error('interrupted');
      const run = {
        ms: +r.ms.toFixed(2),
        ok: r.ok,
        ...(r.rssKB ? { rssKB: r.rssKB } : {}),
        ...(r.cpuMs != null ? { cpuMs: r.cpuMs } : {}),
        othersCpuMs: Math.round(othersMs),
      };
      if (proxies.length) {
        const counts = proxies.map((p) => p.counts());
        run.roundTrips = counts.reduce((a, c) => a + c.roundTrips, 0);
        run.connections = counts.reduce((a, c) => a + c.connections, 0);
        run.requests = { src: counts[0].requests, dst: counts[1]?.requests };
      }
      if (!r.ok) {
        run.error = `exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(-800)}`;
      } else if (c.verify) {
        const problem = await c.verify(ctx, state, dest, tool, r);
        if (problem) {
          run.ok = false;
          run.error = `copied but wrong: ${problem}`;
        }
      }
      const extra =
        (run.cpuMs != null ? `, CPU ${fmtSec(run.cpuMs)} s (registries+proxies ${fmtSec(run.othersCpuMs)} s)` : '') +
        (run.roundTrips != null ? `, ${run.roundTrips} round trips on ${run.connections} conn` : '');
      log(
        `  ${tool.padEnd(6)} ${run.ok ? 'ok ' : 'ERR'} ${fmtSec(run.ms)} s${extra}` +
          (run.rssKB ? `, ${(run.rssKB / 1024).toFixed(0)} MiB RSS` : '') +
          (run.ok ? '' : `  ${run.error.split('\n')[0]}`),
      );
      return run;
    };

    for (const c of selected) {
      log(`case ${c.name}: ${c.description ?? ''}`);
      const state = await c.setup(ctx);
      const lastGood = {};
      for (const mode of ['fresh', 'recopy']) {
        const target = c.targets?.[mode];
        if (!target) continue;
        const n = runsOverride ?? c.runs?.[mode] ?? 5;
        const runs = { regctl: [], skopeo: [] };
        const dests = {};
        if (mode === 'recopy') {
          // The destination already holds the image: reuse each tool's last good fresh
          // destination, or prime a new one with an untimed copy.
          for (const tool of Object.keys(tools)) {
            dests[tool] = lastGood[tool];
            if (!dests[tool]) {
              dests[tool] = c.newDest(ctx, state, tool, 'recopy');
              log(`  ${tool}: priming the re-copy destination`);
              const r = await runOne(c, state, tool, dests[tool]);
              if (!r.ok) dests[tool] = null;
            }
          }
        }
        log(`case ${c.name} ${mode}: ${n} run(s) per tool`);
        for (let i = 0; i < n; i++) {
          for (const tool of Object.keys(tools)) {
            if (mode === 'fresh') {
              const dest = c.newDest(ctx, state, tool, `fresh-${i}`);
              const r = await runOne(c, state, tool, dest, { rss: !!c.rss });
              if (r.ok) lastGood[tool] = dest;
              runs[tool].push(r);
            } else if (dests[tool]) {
              runs[tool].push(await runOne(c, state, tool, dests[tool]));
            } else {
              runs[tool].push({ ms: null, ok: false, error: 'could not prime the destination' });
            }
          }
        }
        const regctl = summarize(runs.regctl);
        const skopeo = summarize(runs.skopeo);
        const { pass, limitMs } = evaluate(target, regctl.medianMs, skopeo.medianMs, nodeMs);
        results.cases.push({
          case: c.name,
          peer: c.peer?.name ?? 'skopeo',
          mode,
          target: { ...target },
          regctl,
          skopeo,
          ratio: regctl.medianMs != null && skopeo.medianMs ? regctl.medianMs / skopeo.medianMs : null,
          limitMs,
          pass: pass && regctl.failedRuns === 0,
        });
        if (c.rss && mode === 'fresh') {
          results.rss = {
            case: `${c.name} fresh`,
            regctlPeakMB: regctl.peakRssKB != null ? regctl.peakRssKB / 1024 : null,
            skopeoPeakMB: skopeo.peakRssKB != null ? skopeo.peakRssKB / 1024 : null,
            targetMB: RSS_TARGET_MB,
            pass: regctl.peakRssKB != null && regctl.failedRuns === 0 && regctl.peakRssKB / 1024 <= RSS_TARGET_MB,
          };
        }
      }
      await c.teardown?.(ctx, state);
    }

    const checks = [
      { name: 'startup', pass: results.startup.pass },
      ...results.cases.map((r) => ({ name: `${r.case} ${r.mode}`, pass: r.pass })),
      ...(results.rss ? [{ name: 'peak RSS', pass: results.rss.pass }] : []),
    ];
    results.failed = checks.filter((c) => !c.pass).map((c) => c.name);
    results.pass = results.failed.length === 0;
    await fsp.writeFile(path.join(WORK_DIR, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    const text = report(results);
    process.stdout.write(text);
    log(`results written to ${path.relative(process.cwd(), path.join(WORK_DIR, 'results.json'))}`);
    await cleanup();
    if (strict && !results.pass) process.exitCode = 1;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function report(results) {
  const rows = [
    [
      'case',
      'regctl (s)',
      'skopeo (s)',
      'regctl/skopeo',
      'target',
      'result',
      'CPU regctl/skopeo (s)',
      'CPU floor regctl/skopeo (s)',
      'round trips (conns) regctl/skopeo',
    ],
  ];
  const trips = (t) => (t.roundTripsMedian == null ? '-' : `${t.roundTripsMedian} (${t.connectionsMedian})`);
  for (const r of results.cases) {
    let target = r.target.label;
    if (r.target.type === 'overNode' && r.limitMs != null) target += ` (${fmtSec(r.limitMs)} s)`;
    const note = r.regctl.failedRuns
      ? ` (${r.regctl.failedRuns} regctl run(s) failed)`
      : r.skopeo.failedRuns
        ? ` (${r.skopeo.failedRuns} skopeo run(s) failed)`
        : '';
    rows.push([
      `${r.case} ${r.mode === 'fresh' ? 'fresh' : 're-copy'}${r.peer && r.peer !== 'skopeo' ? ` (vs ${r.peer})` : ''}`,
      fmtSec(r.regctl.medianMs),
      fmtSec(r.skopeo.medianMs),
      r.ratio == null ? '-' : r.ratio.toFixed(2),
      target,
      (r.pass ? 'PASS' : 'FAIL') + note,
      `${fmtSec(r.regctl.cpuMedianMs)} / ${fmtSec(r.skopeo.cpuMedianMs)}`,
      `${fmtSec(r.regctl.cpuFloorMedianMs)} / ${fmtSec(r.skopeo.cpuFloorMedianMs)}`,
      r.regctl.roundTripsMedian == null && r.skopeo.roundTripsMedian == null
        ? '-'
        : `${trips(r.regctl)} / ${trips(r.skopeo)}`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => [...row[i]].length)));
  const line = (row) =>
    row
      .map((cell, i) => (i >= 1 && i <= 3 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  let out = '\n' + line(rows[0]) + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') + '\n';
  for (const row of rows.slice(1)) out += line(row) + '\n';

  const s = results.startup;
  out += `\nstartup   node -e 0 ${fmtMs(s.nodeMedianMs)}, regctl --version ${fmtMs(s.regctlVersionMedianMs)}`;
  out +=
    `, delta ${s.deltaMs == null ? '-' : fmtMs(s.deltaMs)} (target ≤ ${s.targetDeltaMs} ms) ` +
    ` ${s.pass ? 'PASS' : 'FAIL'}\n`;
  if (results.rss) {
    const r = results.rss;
    const mb = (x) => (x == null ? '-' : `${x.toFixed(1)} MB`);
    out +=
      `peak RSS  ${r.case}: regctl ${mb(r.regctlPeakMB)} (target ≤ ${r.targetMB} MB)  ${r.pass ? 'PASS' : 'FAIL'}; ` +
      ` skopeo ${mb(r.skopeoPeakMB)}  [${results.rssMethod}, MB = 2^20 bytes]\n`;
  }
  const errors = [];
  if (s.error) errors.push(`regctl --version: ${s.error}`);
  for (const r of results.cases) {
    for (const tool of ['regctl', 'skopeo']) {
      if (r[tool].firstError) errors.push(`${r.case} ${r.mode} ${tool}: ${r[tool].firstError}`);
    }
  }
  if (errors.length)
    out += `\nerrors (first per case/tool):\n${errors.map((e) => `  ${e.replace(/\n/g, '\n    ')}`).join('\n')}\n`;
  out +=
    `\nregctl: ${results.regctlCommand} (${results.versions.regctl}); ${results.versions.skopeo}; ` +
    `${results.versions.registry}; node ${results.versions.node}; ${results.machine.cpus} CPU(s)\n`;
  return out;
}

main().catch((e) => {
  if (e?.message === 'interrupted') return;
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  process.exitCode = 1;
});
