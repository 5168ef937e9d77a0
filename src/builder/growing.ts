// A file still being written, readable from the start while it grows: a layer can stream to a registry as it is made,
// and a restarted upload simply reads it again from byte 0.
import { open } from 'node:fs/promises';
import type { Bytes } from '../transports/types.js';

const READ = 1024 * 1024;

export class GrowingFile {
  private size = 0;
  private ended = false;
  private failed = false;
  private failure: unknown; // the writer's error, rethrown as it came to every reader
  private waiters: Array<() => void> = [];

  constructor(readonly path: string) {}

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The writer has written this many bytes in all. */
  grew(size: number): void {
    this.size = size;
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(err: unknown): void {
    this.failure = err ?? new Error('the layer was not written');
    this.failed = true;
    this.wake();
  }

  /** Every byte from the start, waiting for more until the writer ends (or fails: then this throws). */
  async *read(signal: AbortSignal): Bytes {
    const fh = await open(this.path, 'r');
    try {
      for (let pos = 0; ;) {
        if (this.failed) throw this.failure;
        signal.throwIfAborted();
        if (pos < this.size) {
          const buf = Buffer.allocUnsafe(Math.min(READ, this.size - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) throw new Error(`${this.path}: shorter than written`);
          pos += bytesRead;
          yield buf.subarray(0, bytesRead);
        } else if (this.ended) return;
        else await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    } finally {
      await fh.close();
    }
  }
}
