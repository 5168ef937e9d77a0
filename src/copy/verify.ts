// Byte streams checked while they flow: size and digest verified, a broken read resumed at its offset.
import { DigestError, RegctlError, isAbortError } from '../errors.js';
import { algorithmOf, hashOf } from '../oci/digest.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';
import type { Descriptor } from '../oci/manifest.js';
import { RetryBudget, backoffMs, isRetryableError, networkReason, sleep } from '../registry-client/retry.js';
import type { Bytes } from '../transports/types.js';

/**
 * Yields the bytes of `src` while hashing them; throws DigestError on a size or digest mismatch (before the last chunk
 * is passed on).
 */
export async function* verified(src: Bytes, desc: Descriptor, side = 'source'): Bytes {
  const hash = hashOf(algorithmOf(desc.digest));
  let n = 0;
  let held: Uint8Array | undefined;
  for await (const chunk of src) {
    n += chunk.byteLength;
    if (n > desc.size) throw new DigestError('SIZE_EXCEEDED', desc.digest, desc.size, n, side);
    hash.update(chunk);
    // Hold one chunk back so the consumer never sees the final bytes of a blob that fails verification.
    if (held) yield held;
    held = chunk;
  }
  if (n !== desc.size) throw new DigestError('SHORT_READ', desc.digest, desc.size, n, side);
  if (`${algorithmOf(desc.digest)}:${hash.digest('hex')}` !== desc.digest)
    throw new DigestError('MISMATCH', desc.digest, desc.size, n, side);
  if (held) yield held;
}

export interface ResumeOptions {
  retries: number;
  signal: AbortSignal;
  onBytes?: (n: number) => void;
  onRetry?: (attempt: number, delayMs: number, reason: string) => void;
}

/**
 * Reads a blob through `open(offset, budget)`, reopening at the current offset (Range) when the stream breaks. One
 * budget of `retries` for the whole read: `open` passes it to the source's requests, whose own retries draw on it.
 */
export async function* resumable(
  open: (offset: number, budget: RetryBudget) => Promise<Bytes>,
  desc: Descriptor,
  opts: ResumeOptions,
): Bytes {
  let offset = 0;
  const budget = new RetryBudget(opts.retries);
  for (;;) {
    try {
      const body = await open(offset, budget);
      for await (const chunk of body) {
        offset += chunk.byteLength;
        opts.onBytes?.(chunk.byteLength);
        yield chunk;
      }
      return;
    } catch (err) {
      if (isAbortError(err) || !isRetryableError(err)) throw err;
      if (offset >= desc.size || !budget.take()) {
        // Named for the source: it travels through the destination's upload request, which must not take the blame.
        throw new RegctlError(
          'SOURCE_READ',
          `source blob ${desc.digest}: ${networkReason(err)} at byte ${offset} of ${desc.size}`,
          { cause: err },
        );
      }
      const delayMs = backoffMs(budget.used - 1);
      opts.onRetry?.(budget.used, delayMs, `${networkReason(err)} at byte ${offset}`);
      await sleep(delayMs, opts.signal);
    }
  }
}

/**
 * A small blob (a config) whole and verified; undefined, without opening it, when its descriptor says it is over the
 * MAX_JSON_BYTES cap (`verified` holds it to that size).
 */
export async function readSmallBlob(desc: Descriptor, open: () => Promise<Bytes>): Promise<Uint8Array | undefined> {
  if (desc.size > MAX_JSON_BYTES) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const c of verified(await open(), desc)) chunks.push(c);
  return Buffer.concat(chunks);
}
