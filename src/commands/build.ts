// `build CONTEXT`: a Dockerfile without RUN built straight into registries, layouts or archives (-t), no daemon.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { BuildRequest } from '../builder/build.js';
import type { AppContext } from '../context.js';
import { UsageError } from '../errors.js';
import { parseLocation } from '../location/parse.js';
import { formatPlatform } from '../oci/platform.js';
import { escapeControl } from '../util/escape.js';
import { formatBytes } from '../output/render.js';
import { keyValueFlags } from './flags.js';
import { parsePlatforms } from './shared.js';
import { type CommandDef, collect } from './types.js';

/** A size such as 512MiB, 2g, 1048576 (bytes); binary units. */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a size such as 512MiB or 2GiB`);
  return Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf(m[2].toLowerCase() || ' '));
}

export function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const text = env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return 0;
  if (!/^\d+$/.test(text))
    throw new UsageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got ${JSON.stringify(text)}`);
  return Number(text);
}

async function readDockerfile(
  ctx: AppContext,
  file: string | undefined,
  contextDir: string,
): Promise<{ text: string; path?: string }> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return { text: Buffer.concat(chunks).toString('utf8') };
  }
  const path = file ? (isAbsolute(file) ? file : resolve(file)) : join(contextDir, 'Dockerfile');
  // The context's own Dockerfile stays inside the context (a symlink out of it is refused); -f names any file.
  const { readTextInside } = await import('../builder/context.js');
  const text = file
    ? await readFile(path, 'utf8').catch(() => undefined)
    : await readTextInside(contextDir, path, 'Dockerfile');
  if (text === undefined) {
    throw new UsageError(`cannot read the Dockerfile ${path}`, file ? undefined : 'name it with -f FILE');
  }
  return { text, path };
}

export const buildCommand: CommandDef = {
  name: 'build',
  args: '<context>',
  summary: 'build an image from a Dockerfile (COPY/ADD, ENV, LABEL…; no RUN) straight into any location, no daemon',
  examples: [
    'regctl build -t localhost:5000/app:v1 .',
    'regctl build -f deploy/Dockerfile --build-arg VERSION=1.2 ' +
      '-t 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.2 .',
    'regctl build --platform linux/amd64 --platform linux/arm64 -t ghcr.io/o/app:v1 -t oci:./out:v1 .',
    'SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) regctl build --platform all -t ghcr.io/o/app:v1 .',
  ],
  configure(cmd) {
    cmd
      .option('-f, --file <path>', 'the Dockerfile (default CONTEXT/Dockerfile; - reads it from stdin)')
      .option(
        '-t, --tag <dest>',
        'where to write the image (repeatable): a registry image, oci:DIR[:TAG], docker-archive:FILE…',
        collect,
      )
      .option(
        '--build-arg <key=value>',
        'a value for an ARG (repeatable; KEY alone takes it from the environment)',
        collect,
      )
      .option(
        '--platform <os/arch[/variant]|all>',
        'build for this platform (repeatable: an index of them; all: every platform of the base)',
        collect,
      )
      .option('--label <key=value>', 'add a label to the image (repeatable)', collect)
      .option('--target <stage>', 'build this stage instead of the last')
      .option('--max-add-size <size>', 'the most one ADD may unpack from local archives', '512MiB')
      .option(
        '--build-context <name=location>',
        'FROM/COPY --from NAME reads this image (e.g. oci:../base:1); paths outside the context only so (repeatable)',
        collect,
      );
  },
  async run(ctx, [contextArg], opts) {
    const contextDir = resolve(contextArg);
    const dests = ((opts.tag as string[] | undefined) ?? []).map((t) => parseLocation(t));
    const platformFlags = (opts.platform as string[] | undefined) ?? [];
    const platforms =
      platformFlags.length === 1 && platformFlags[0] === 'all'
        ? 'all'
        : parsePlatforms(platformFlags.length ? platformFlags : undefined);
    if (platformFlags.includes('all') && platforms !== 'all')
      throw new UsageError('--platform all cannot be combined with other platforms');
    const df = await readDockerfile(ctx, opts.file as string | undefined, contextDir);
    const talk = !ctx.globals.quiet && !ctx.globals.json;
    const say = (line: string) => talk && ctx.io.stderr.write(`${escapeControl(line)}\n`);
    const [{ layerIndexDir }, { BuildSession }, { createSink }] = await Promise.all([
      import('../builder/layer-index.js'),
      import('../builder/session.js'),
      import('../output/progress.js'),
    ]);
    // Flags are read before any destination is opened: bad input leaves nothing behind.
    const request: BuildRequest = {
      contextDir,
      dockerfileText: df.text,
      dockerfilePath: df.path,
      platforms,
      opts: {
        buildArgs: keyValueFlags(opts.buildArg, '--build-arg', ctx.env),
        labels: keyValueFlags(opts.label, '--label'),
        target: opts.target as string | undefined,
        epoch: sourceDateEpoch(ctx.env),
        signal: ctx.signal,
        onStep: say,
        warn: (m) => ctx.log.warn(m),
        maxAddBytes: parseSize(String(opts.maxAddSize), '--max-add-size'),
        indexDir: layerIndexDir(ctx.env),
        namedContexts: keyValueFlags(opts.buildContext, '--build-context'),
      },
    };
    const session = await BuildSession.open(ctx, dests);
    try {
      const { built, early, streamed } = await session.make(request);
      for (const s of streamed)
        say(`${s.where}: layer ${s.digest.slice(7, 19)} (${formatBytes(s.size)}) sent while it was written`);
      const ix = built.indexed;
      if (ix.layers) {
        say(
          `base layers read once to index their directories (kept in the cache): ` +
            `${ix.layers} (${formatBytes(ix.bytes)})`,
        );
      }
      if (early.blobs || early.mounted)
        say(
          `base layers moved while building: ${early.blobs} copied (${formatBytes(early.bytes)}), ` +
            `${early.mounted} mounted`,
        );
      const root = built.image.root.desc;
      const layers = built.layers.map((l) => ({
        digest: l.digest,
        size: l.size,
        diffId: l.diffId,
        uncompressedSize: l.uncompressedSize,
      }));
      const found = built.layers.filter((l) => l.from).length;
      say(
        `built ${root.digest} (${built.platforms.map(formatPlatform).join(', ')}): ` +
          `${layers.length} layer${layers.length === 1 ? '' : 's'} from the context ` +
          `(${formatBytes(layers.reduce((n, l) => n + l.size, 0))})` +
          (found ? `, ${found} already at the destination` : ''),
      );
      if (dests.length === 0) {
        say('no -t given: nothing written');
        return {
          stdout: root.digest,
          json: {
            digest: root.digest,
            mediaType: root.mediaType,
            platforms: built.platforms.map(formatPlatform),
            layers,
            destinations: [],
          },
        };
      }
      const sink = await createSink(ctx.io, ctx.globals, '');
      let results;
      try {
        // Each byte is reported once, in the phase that sent it: what went up while building is not "already there"
        // now.
        results = await session.push({ kind: 'path', path: contextDir }, (e) => sink.handle(e));
      } catch (err) {
        sink.fail();
        throw err;
      }
      // The summary's bytes and time are the push's own; what went earlier (base layers, streamed layers) has its own
      // lines above, so no byte is counted twice nor timed by the wrong phase. --json's bytesSent is the whole.
      const pushed = results.reduce((n, r) => n + r.bytesSent, 0);
      const before = early.bytes + streamed.reduce((n, s) => n + s.size, 0);
      const sent = pushed + before;
      sink.finish(`pushed to ${dests.length} destination${dests.length === 1 ? '' : 's'}: ${formatBytes(pushed)} sent`);
      if (sent === 0) ctx.log.info('no blob bytes were sent');
      return {
        stdout: results.map((r) => r.reference).join('\n'),
        json: {
          digest: root.digest,
          mediaType: root.mediaType,
          platforms: built.platforms.map(formatPlatform),
          layers,
          bytesSent: sent,
          destinations: results.map((r) => ({
            reference: r.reference,
            upToDate: r.upToDate,
            bytesSent: r.bytesSent,
            blobs: r.blobs,
          })),
        },
      };
    } finally {
      await session.close();
    }
  },
};
