// A layer's gzip into a file (util/pgzip.ts: deterministic, on every core); one pass gives the diffID (sha256 of the
// tar), the digest and the size of the gzip.
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Digest } from '../oci/digest.js';
import { GzipBlocks } from '../util/pgzip.js';

export interface Compressed {
  digest: Digest;
  diffId: Digest;
  /** Bytes of the gzip stream. */
  size: number;
  /** Bytes of the tar. */
  uncompressedSize: number;
}

export class ParallelGzip {
  private readonly diff = createHash('sha256');
  private readonly comp = createHash('sha256');
  private written = 0;
  private readonly enc: GzipBlocks;

  constructor(
    private readonly out: FileHandle,
    level = 6,
    /** Told the total bytes written after every write (a reader may follow the file). */
    private readonly onGrow?: (written: number) => void,
  ) {
    this.enc = new GzipBlocks({ level });
  }

  private emit(bufs: Buffer[]): void {
    for (const buf of bufs) {
      this.comp.update(buf);
      this.written += buf.length;
      // Synchronous writes (into the page cache): the thread pool is left to deflate.
      let off = 0;
      while (off < buf.length) off += writeSync(this.out.fd, buf, off, buf.length - off);
    }
    this.onGrow?.(this.written);
  }

  /** Adds tar bytes. The bytes are copied before this returns; await it for back-pressure. */
  async write(data: Uint8Array): Promise<void> {
    this.diff.update(data);
    for (let off = 0; off < data.length;) {
      off = this.enc.take(data, off);
      while (this.enc.full) this.emit(await this.enc.next());
    }
  }

  async finish(): Promise<Compressed> {
    this.enc.end();
    while (this.enc.pending) this.emit(await this.enc.next());
    this.emit([this.enc.trailer()]);
    return {
      digest: `sha256:${this.comp.digest('hex')}` as Digest,
      diffId: `sha256:${this.diff.digest('hex')}` as Digest,
      size: this.written,
      uncompressedSize: this.enc.total,
    };
  }

  /** Waits for blocks in flight (after a failure), so no worker writes into a closed file. */
  async discard(): Promise<void> {
    await this.enc.settle();
  }
}
