// Bundles dist/ (tsc's output) into one CommonJS file, dist/bundle/cli.cjs, and saves V8's code cache for it, so a
// short command neither resolves ~60 modules nor parses a megabyte of JavaScript. bin/regctl prefers the bundle and
// falls back to dist/cli.js when tsc's output is newer.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const noHttp2 = {
  name: 'no-http2',
  setup(b) {
    // undici loads node:http2 at start-up and copes with its absence; regctl never speaks HTTP/2.
    b.onResolve({ filter: /^(node:)?http2$/ }, () => ({ path: 'http2', namespace: 'no-http2' }));
    b.onLoad({ filter: /.*/, namespace: 'no-http2' }, () => ({
      contents: "throw new Error('HTTP/2 is not used by regctl');",
      loader: 'js',
    }));
  },
};

const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    // commander requires child_process at load for executable subcommands, which regctl does not use: load it on first
    // use.
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /node_modules[\\/]commander/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-child-process' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

const BUNDLE = 'dist/bundle/cli.cjs';
// Chunks of earlier (ESM, split) builds must not linger.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: ['dist/cli.js'],
  outfile: BUNDLE,
  bundle: true,
  // One CommonJS file: bin/load-bundle.cjs compiles it with V8's code cache (Node 20 has none for ES modules), and
  // lazily imported modules stay lazy (esbuild wraps each in an init function run on first import).
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // import() of a node: module or an external (keytar, the AWS SDK) becomes require(): a vm.Script has no ES module
  // loader.
  supported: { 'dynamic-import': false },
  // Native or very large, and loaded only when needed: resolved from node_modules at run time.
  external: ['@aws-sdk/*', 'keytar'],
  plugins: [noHttp2, lazyChildProcess],
  // Smaller files parse faster; names are kept so errors stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  legalComments: 'none',
});

// The build id on the first line ties the code cache to this very bundle (V8 itself compares only lengths).
const code = readFileSync(BUNDLE, 'utf8');
// bin/load-bundle.cjs reads the bundle as latin1 (twice as fast as utf8): it must be ASCII, as esbuild writes strings.
const nonAscii = /[^\x00-\x7f]/.exec(code);
if (nonAscii)
  throw new Error(
    `${BUNDLE} has a non-ASCII character near: ` +
      `${code.slice(Math.max(0, nonAscii.index - 60), nonAscii.index + 20)} (write it as \\u escape in the source)`,
  );
const id = createHash('sha256').update(code).digest('hex').slice(0, 32);
writeFileSync(BUNDLE, `// regctl-build ${id}\n${code}`);

// The code cache is made in a fresh process with V8's default flags, as bin/regctl starts (V8 refuses a cache made
// under other flags).
execFileSync(
  process.execPath,
  ['-e', "require('./bin/load-bundle.cjs').writeCache().then((n) => { if (!n) process.exit(1); })"],
  { stdio: 'inherit' },
);
