// `pull REF PATH` and `push PATH REF`: copy with the local side's format chosen by flag or file name.
import { UsageError } from '../errors.js';
import { type Location, parseLocation } from '../location/parse.js';
import { runCopy } from './copy.js';
import { addCreateRepoFlags, createRepoSettings } from './flags.js';
import { localLocation, parsePlatforms, registryRef } from './shared.js';
import { type CommandDef, collect } from './types.js';

const FORMATS = ['docker-archive', 'oci', 'oci-archive'] as const;

export function localDestination(path: string, format: unknown): Location {
  if (format === undefined) return localLocation(path, 'pull writes to');
  const f = format as (typeof FORMATS)[number]; // `--format <format>`: a string, checked here
  if (!FORMATS.includes(f)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  return parseLocation(`${f}:${path}`);
}

export const pullCommand: CommandDef = {
  name: 'pull',
  args: '<ref> <path>',
  summary: 'copy a registry image to a local docker-archive, OCI layout or oci-archive',
  examples: [
    'regctl pull alpine:3.20 ./alpine.tar',
    'regctl pull --format oci alpine:3.20 ./layout',
    'regctl pull --format oci-archive --platform linux/arm64 alpine:3.20 alpine-arm64.tar',
  ],
  configure(cmd) {
    cmd.option('--format <format>', 'docker-archive, oci or oci-archive (default: .tar → docker-archive, else oci)');
    cmd.option(
      '--platform <os/arch[/variant]>',
      'the platform to pull from an index (repeatable for OCI outputs)',
      collect,
    );
  },
  run(ctx, [ref, path], opts) {
    registryRef(ref);
    return runCopy(ctx, ref, localDestination(path, opts.format), parsePlatforms(opts.platform));
  },
};

export const pushCommand: CommandDef = {
  name: 'push',
  args: '<path> <ref>',
  summary: 'copy a local docker-archive, OCI layout or oci-archive to a registry',
  examples: [
    'regctl push ./alpine.tar localhost:5000/alpine:3.20',
    'regctl push oci:./layout:3.20 ghcr.io/me/alpine:3.20',
  ],
  configure(cmd) {
    cmd.option('--platform <os/arch[/variant]>', 'push only this platform of an index', collect);
    addCreateRepoFlags(cmd);
  },
  run(ctx, [path, ref], opts) {
    const src = localLocation(path, 'push reads');
    return runCopy(
      ctx,
      src,
      { kind: 'registry', ref: registryRef(ref) },
      parsePlatforms(opts.platform),
      createRepoSettings(opts),
    );
  },
};
