// Content digests: validation, computation and safe use in URLs and paths.
// node:crypto is loaded on first use: commands that only HEAD (digest, an up-to-date copy) never pay for it.
let crypto: typeof import('node:crypto') | undefined;
export const hashOf = (algorithm: string) => (crypto ??= process.getBuiltinModule('node:crypto')).createHash(algorithm);

export type Digest = string & { readonly __brand: 'Digest' };

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

export function isDigest(value: string): value is Digest {
  const m = DIGEST_RE.exec(value);
  return m !== null && m[2].length === HEX_LENGTH[m[1]];
}

/** Validates `algorithm:hex` with the right length; throws a TypeError naming the bad value otherwise. */
export function parseDigest(value: string): Digest {
  if (!isDigest(value)) throw new TypeError(`invalid digest ${JSON.stringify(value.slice(0, 140))}`);
  return value;
}

export function algorithmOf(digest: Digest): 'sha256' | 'sha512' {
  return digest.slice(0, digest.indexOf(':')) as 'sha256' | 'sha512';
}

export function hexOf(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${hashOf(algorithm).update(bytes).digest('hex')}` as Digest;
}

/** A short form for humans: `sha256:0123456789ab`. */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return digest.slice(0, i + 13);
}
