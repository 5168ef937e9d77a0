// The one cap on JSON read from outside (manifests, indexes, configs, archive metadata, tag-list pages, spec and
// config files): 4 MiB, as SPEC §4 and the distribution registry's own manifest limit.
export const MAX_JSON_BYTES = 4 * 1024 * 1024;
