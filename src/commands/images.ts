// `images REPO`: one row per image (tags, digest, media type, platforms, size, created, pushed on ECR); --json, --sort,
// --filter.
import { type AppContext, ecrOf } from '../context.js';
import { UsageError } from '../errors.js';
import { parseRepository } from '../location/reference.js';
import { addImagesFlags, pageSize } from './flags.js';
import type { CommandDef, CommandResult } from './types.js';

export async function runImages(
  ctx: AppContext,
  repoText: string,
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const ref = parseRepository(repoText);
  const [{ listImages }, view] = await Promise.all([import('../images/list.js'), import('../images/view.js')]);
  const sort = opts.sort as string | undefined;
  if (sort !== undefined && !view.SORT_KEYS.includes(sort as never))
    throw new UsageError(`--sort must be one of ${view.SORT_KEYS.join(', ')}`);
  const filters = view.parseFilters((opts.filter as string[] | undefined) ?? []);
  const ecr = await ecrOf(ctx, ref.registry);
  const listing = await listImages(
    ctx.client('any'),
    { registry: ref.registry, repository: ref.repository },
    {
      pageSize: pageSize(opts.pageSize),
      details: opts.config !== false,
      children: true,
      signal: ctx.signal,
      jobs: ctx.globals.jobs,
      ...(ecr ? { ecr } : {}),
    },
  );
  const now = Date.now();
  const rows = view.sortRows(
    listing.rows.filter((r) => filters.every((f) => f(r, now))),
    sort as never,
  );
  if (listing.children > 0)
    ctx.log.info(
      `${listing.children} manifest${listing.children === 1 ? '' : 's'} listed by an index of the repository not shown`,
    );
  const text = rows.length === 0 ? '' : view.renderTable(rows, Boolean(listing.ecr));
  if (rows.length === 0)
    ctx.log.info(
      listing.rows.length === 0 ? `${ref.registry}/${ref.repository} has no images` : 'no image matches the filter',
    );
  return { stdout: text, json: rows };
}

export const imagesCommand: CommandDef = {
  name: 'images',
  args: '<repo>',
  summary: 'list the images of a repository: tags, digest, media type, platforms, size, created, pushed (ECR)',
  examples: [
    'regctl images localhost:5000/app',
    'regctl images --sort size --filter tag=^v1,older=30d 123456789012.dkr.ecr.us-east-1.amazonaws.com/app',
    'regctl images --json --filter untagged 123456789012.dkr.ecr.us-east-1.amazonaws.com/app | jq -r ".[].digest"',
  ],
  configure(cmd) {
    addImagesFlags(cmd);
    cmd.option('--page-size <n>', 'tags (ECR: image details) asked for per request, at most 1000', '1000');
  },
  run(ctx, [repoText], opts) {
    return runImages(ctx, repoText, opts);
  },
};
