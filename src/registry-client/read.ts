// Bounded reads of what registries and token servers send: every metadata answer has a cap; reading stops there.
import type { Dispatcher } from './undici-lite.js';

/** A token server's answer (a JWT and a few fields; Docker Hub's are ~4 KiB). */
export const MAX_TOKEN_BYTES = 1024 * 1024;
/** An error answer: enough for any registry's `{"errors":[…]}`; the rest is never read. */
export const MAX_ERROR_BYTES = 64 * 1024;
/** Every page of one tag list or catalog together (~500,000 tags of 128 characters). */
export const MAX_LIST_TOTAL_BYTES = 64 * 1024 * 1024;

type Body = Dispatcher.ResponseData['body'];

/**
 * Reads at most `cap` bytes (and the chunk that crosses it: reading stops as soon as more than `cap` arrived).
 * `over`: the body had more; it is then destroyed, not drained, so an answer that never ends costs nothing more.
 */
export async function readUpTo(body: Body, cap: number): Promise<{ bytes: Buffer; over: boolean }> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    n += b.byteLength;
    if (n > cap) {
      chunks.push(b.subarray(0, b.byteLength - (n - cap)));
      body.destroy();
      return { bytes: Buffer.concat(chunks, cap), over: true };
    }
    chunks.push(b);
  }
  return { bytes: Buffer.concat(chunks, n), over: false };
}

/** The start of an error answer as text (at most MAX_ERROR_BYTES); the rest is dropped with the connection. */
export async function readErrorText(body: Body): Promise<string> {
  return (await readUpTo(body, MAX_ERROR_BYTES)).bytes.toString('utf8');
}
