// Bundles dist/ (tsc's output) into dist/bundle/: one entry plus a chunk per lazily imported part, so a short
// command loads a few files instead of ~60. bin/regctl prefers the bundle and falls back to dist/cli.js.
import { build } from 'esbuild';

const noHttp2 = {
  name: 'no-http2',
  setup(b) {
    // undici loads node:http2 at start-up and copes with its absence; regctl never speaks HTTP/2.
    b.onResolve({ filter: /^(node:)?http2$/ }, () => ({ path: 'http2', namespace: 'no-http2' }));
    b.onLoad({ filter: /.*/, namespace: 'no-http2' }, () => ({ contents: "throw new Error('HTTP/2 is not used by regctl');", loader: 'js' }));
  },
};

const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    // commander requires child_process at load for executable subcommands, which regctl does not use: load it on first use.
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /node_modules[\\/]commander/.test(args.importer) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: ['dist/cli.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native or very large, and loaded only when needed: resolved from node_modules at run time.
  external: ['@aws-sdk/*', 'keytar'],
  banner: { js: "import { createRequire as __regctlRequire } from 'node:module'; const require = __regctlRequire(import.meta.url);" },
  plugins: [noHttp2, lazyChildProcess],
  // Smaller files parse faster; names are kept so errors stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  legalComments: 'none',
});
