'use strict';
// Loads dist/bundle/cli.cjs (one CommonJS file, made by scripts/bundle.mjs) through V8's code cache.
//
// Node 20 has no compile cache for user code (module.enableCompileCache is Node 22), so a short command used to spend
// ~15 ms parsing a megabyte of JavaScript and resolving ~35 ES module chunks. Here the bundle is compiled with the
// cached data `npm run build` made (dist/bundle/cli.cjs.cache), and parsing is skipped. V8 checks that the cache
// fits this V8 and its flags and ignores it otherwise; that it fits this very bundle is ours to check, since V8
// compares only the source's length: the cache starts with the build id the bundle's first line carries.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const BUNDLE = path.join(__dirname, '..', 'dist', 'bundle', 'cli.cjs');
const CACHE = `${BUNDLE}.cache`;
const ID_RE = /^\/\/ regctl-build ([0-9a-f]{16,64})\n/;

/** The compiled bundle, or undefined when there is none or tsc's output is newer (then dist/cli.js runs). */
function compile(useCache) {
  let source;
  try {
    const dist = fs.statSync(path.join(__dirname, '..', 'dist', 'cli.js'), { throwIfNoEntry: false });
    const bundle = fs.statSync(BUNDLE, { throwIfNoEntry: false });
    if (!bundle || (dist && dist.mtimeMs > bundle.mtimeMs)) return undefined;
    // ASCII, which scripts/bundle.mjs checks: latin1 reads it twice as fast as utf8.
    source = fs.readFileSync(BUNDLE, 'latin1');
  } catch {
    return undefined;
  }
  const id = ID_RE.exec(source)?.[1];
  let cachedData;
  let cache = 'missing';
  if (useCache && id) {
    try {
      const bytes = fs.readFileSync(CACHE);
      const header = `regctl-build ${id}\n`;
      if (bytes.subarray(0, header.length).toString('latin1') === header) cachedData = bytes.subarray(header.length);
      else cache = 'other-build';
    } catch {
      /* no cache: compile from source */
    }
  }
  const script = new vm.Script(Module.wrap(source), { filename: BUNDLE, cachedData });
  if (cachedData) cache = script.cachedDataRejected ? 'rejected' : 'used';
  return { script, id, cache };
}

/** Runs the bundle's top level and returns its exports (main, warm). */
function evaluate(script) {
  const mod = { exports: {} };
  const req = Module.createRequire(BUNDLE);
  script.runInThisContext().call(mod.exports, mod.exports, req, mod, BUNDLE, path.dirname(BUNDLE));
  return mod.exports;
}

/** The CLI's main(argv): from the bundle when it is there and current, else from tsc's output. */
async function loadMain() {
  const compiled = compile(true);
  if (compiled) return evaluate(compiled.script).main;
  return (await import('../dist/cli.js')).main;
}

/**
 * Writes dist/bundle/cli.cjs.cache: compiles the bundle, runs its top level and loads every command module
 * (so their code is in the cache too), then saves what V8 compiled. Run by scripts/bundle.mjs in a fresh process
 * with V8's default flags, as bin/regctl starts.
 */
async function writeCache() {
  const compiled = compile(false);
  if (!compiled || !compiled.id) throw new Error(`${BUNDLE} is missing or has no build id`);
  await evaluate(compiled.script).warm();
  const data = compiled.script.createCachedData();
  const tmp = `${CACHE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`regctl-build ${compiled.id}\n`, 'latin1'), data]));
  fs.renameSync(tmp, CACHE);
  return data.length;
}

/** What compiling the bundle makes of its code cache: used, rejected (by V8), other-build, missing; or no-bundle. */
function cacheState() {
  return compile(true)?.cache ?? 'no-bundle';
}

module.exports = { loadMain, writeCache, cacheState };
