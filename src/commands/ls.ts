// `ls REPO` (every tag across pages) and `catalog HOST` (the repositories, where the registry allows).
import { UsageError } from '../errors.js';
import { listTagsOf } from '../api/registry.js';
import { normalizeRegistry } from '../location/reference.js';
import { addImagesFlags } from './flags.js';
import { runImages } from './images.js';
import type { CommandDef } from './types.js';

export const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['tags'],
  args: '<repo>',
  summary: 'list every tag of a repository, across all pages',
  examples: ['regctl ls alpine', 'regctl ls --json localhost:5000/app'],
  configure(cmd) {
    cmd.option('--page-size <n>', 'tags asked for per request (the registry may send fewer; at most 1000)', '1000');
    cmd.option('-l, --long', 'one row per image with digest, type, platforms, size, dates (as `regctl images`)');
    addImagesFlags(cmd);
  },
  async run(ctx, [repoText], opts) {
    if (opts.long) return runImages(ctx, repoText, opts);
    const tags = await listTagsOf(ctx, repoText, Number(opts.pageSize));
    return { stdout: tags.join('\n'), json: tags };
  },
};

export const catalogCommand: CommandDef = {
  name: 'catalog',
  args: '<host>',
  summary: "list a registry's repositories (where the registry allows it)",
  examples: ['regctl catalog localhost:5000', 'regctl catalog --json registry.example.com'],
  async run(ctx, [host]) {
    if (!host || host.includes('/') || host.includes('@'))
      throw new UsageError(`catalog takes a registry host, got ${JSON.stringify(host)}`);
    const repos = await ctx.client('any').catalog(normalizeRegistry(host), ctx.signal);
    return { stdout: repos.join('\n'), json: repos };
  },
};
