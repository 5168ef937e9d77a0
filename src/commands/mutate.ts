// `mutate REF`: new config (labels, env, entrypoint, cmd, workdir, user) and annotations over the same layers.
import { sourceDeps } from '../context.js';
import { UsageError } from '../errors.js';
import { formatLocation, parseLocation } from '../location/parse.js';
import { formatReference } from '../location/reference.js';
import { formatBytes } from '../output/render.js';
import { keyValueFlags } from './flags.js';
import { type CommandDef, collect } from './types.js';

function jsonArray(flag: string, text: unknown): string[] | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text as string); // `<json>` options: commander hands over the text
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new UsageError(`${flag} takes a JSON array of strings, e.g. ${flag} '["/app", "--serve"]'`);
  }
  return v;
}

export const mutateCommand: CommandDef = {
  name: 'mutate',
  args: '<ref>',
  summary:
    'change an image config (labels, env, entrypoint, cmd, workdir, user) or annotations: new manifest, same layers',
  examples: [
    'regctl mutate localhost:5000/app:v1 --label org.opencontainers.image.revision=$(git rev-parse HEAD)',
    `regctl mutate ghcr.io/o/app:v1 -t ghcr.io/o/app:v1-debug ` +
      `--env LOG_LEVEL=debug --entrypoint '["/app", "--verbose"]'`,
  ],
  configure(cmd) {
    cmd
      .option('-t, --tag <dest>', 'where to write the result (default: REF itself)')
      .option('--label <key=value>', 'set a label (repeatable)', collect)
      .option('--env <key=value>', 'set an environment variable (repeatable)', collect)
      .option('--entrypoint <json>', 'the entrypoint, as a JSON array')
      .option('--cmd <json>', 'the command, as a JSON array')
      .option('--workdir <dir>', 'the working directory')
      .option('--user <user>', 'the user (name or uid[:gid])')
      .option('--annotation <key=value>', 'add a manifest (or index) annotation (repeatable)', collect);
  },
  async run(ctx, [refText], opts) {
    const src = parseLocation(refText);
    const dst = opts.tag ? parseLocation(opts.tag as string) : src;
    const changes = {
      labels: keyValueFlags(opts.label, '--label'),
      env: keyValueFlags(opts.env, '--env'),
      entrypoint: jsonArray('--entrypoint', opts.entrypoint),
      cmd: jsonArray('--cmd', opts.cmd),
      workdir: opts.workdir as string | undefined,
      user: opts.user as string | undefined,
      annotations: keyValueFlags(opts.annotation, '--annotation'),
    };
    const none =
      !changes.labels.size &&
      !changes.env.size &&
      !changes.annotations.size &&
      [changes.entrypoint, changes.cmd, changes.workdir, changes.user].every((x) => x === undefined);
    if (none && dst === src)
      throw new UsageError(
        'nothing to change: give --label, --env, --entrypoint, --cmd, --workdir, --user or --annotation',
      );
    const [{ openSource }, { mutateImage }, { openDestinations, pushMade }, { createSink }] = await Promise.all([
      import('../transports/open.js'),
      import('../builder/mutate.js'),
      import('../builder/push.js'),
      import('../output/progress.js'),
    ]);
    const source = await openSource(src, sourceDeps(ctx));
    try {
      const image = await mutateImage(source, changes, ctx.signal, (m) => ctx.log.warn(m));
      const sink = await createSink(ctx.io, ctx.globals, '');
      // A docker-archive keeps its name (RepoTags) when written again; a name in -t docker-archive:PATH:NAME wins.
      const fromRef = src.kind === 'registry' && src.ref.tag && !src.ref.digest ? formatReference(src.ref) : undefined;
      const defaultName = fromRef ?? source.imageName;
      try {
        const opened = await openDestinations(ctx, [dst], defaultName);
        const [result] = await pushMade(ctx, image, src, [dst], opened, (e) => sink.handle(e));
        const { sent, existed, mounted } = result.blobs;
        sink.finish(
          result.upToDate
            ? `${formatLocation(dst)} is up to date`
            : `mutated: ${sent} blob${sent === 1 ? '' : 's'} sent (${formatBytes(result.bytesSent)}), ` +
                `${existed} already there, ${mounted} mounted`,
        );
        return {
          stdout: result.reference,
          json: {
            reference: result.reference,
            digest: result.digest,
            mediaType: result.mediaType,
            upToDate: result.upToDate,
            blobs: result.blobs,
          },
        };
      } catch (err) {
        sink.fail();
        throw err;
      }
    } finally {
      await source.close();
    }
  },
};
