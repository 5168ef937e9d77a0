// Retry lines for people: one per retried operation (not per attempt, blob or upload session), naming the side
// (source or destination) and the host; later attempts of the same operation stay quiet until the final error.

export type Side = 'source' | 'destination';

export interface RetryNote {
  /** What is retried: `start upload to host/repo`, `blob sha256:… from source host`. */
  what: string;
  reason: string;
  side?: Side;
  host?: string;
  /** The wait before the next try: said when it is a second or more (a Retry-After), so a pause is explained. */
  delayMs?: number;
}

/** The operation without the digests that tell one blob's attempt from another's. */
export function operationOf(what: string): string {
  return what
    .replace(/\s*@?(?:sha256|sha512):[0-9a-f]{8,128}/gi, '')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

export class RetryReport {
  private readonly seen = new Set<string>();

  /** The line to print for this retry, or undefined when its operation was already reported. */
  line(n: RetryNote): string | undefined {
    const op = operationOf(n.what);
    const where = n.side && n.host ? `${n.side} ${n.host}` : n.host ? `registry ${n.host}` : n.side;
    const key = `${where ?? ''}|${op}`;
    if (this.seen.has(key)) return undefined;
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.add(key);
    const wait = n.delayMs !== undefined && n.delayMs >= 1000 ? `; next try in ${(n.delayMs / 1000).toFixed(1)} s` : '';
    return `retrying ${op}${where ? ` (${where})` : ''}: ${n.reason}${wait}`;
  }
}
