// Parallel gzip: valid for GNU gzip (CRC and length checked), the same bytes whatever the concurrency or the input's
// chunking, and a failing or abandoned stream stops pulling its source.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK, type PgzipOptions, pgzip } from '../../src/util/pgzip.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Seeded bytes that look random (AES-CTR of zeros): the same on every run. */
function randomish(n: number, seed: number): Buffer {
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(n)), c.final()]);
}

/** Seeded English-like text (an LCG picking words): compressible, but not trivially. */
function text(n: number, seed: number): Buffer {
  const words = ['the layer registry manifest blob digest image copy push pull', 'index tag of and to a in is that for']
    .join(' ')
    .split(' ');
  let x = seed;
  let s = '';
  while (s.length < n) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += words[x % words.length] + (x % 13 === 0 ? '.\n' : ' ');
  }
  return Buffer.from(s.slice(0, n));
}

async function gz(data: Buffer, opts: PgzipOptions = {}, piece = 64 * 1024): Promise<Buffer> {
  async function* src() {
    for (let off = 0; off < data.length; off += piece) yield data.subarray(off, off + piece);
  }
  const out: Buffer[] = [];
  for await (const b of pgzip(src(), opts)) out.push(b);
  return Buffer.concat(out);
}

describe('pgzip', () => {
  let dir: string;
  const inputs: Record<string, Buffer> = {};
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'regctl-pgzip-'));
    inputs.random = randomish(3 * MiB + 12345, 1);
    inputs.text = text(5 * MiB + 777, 2);
    // Blocks that store, blocks that deflate, a block that starts random and ends as text, a short last block.
    const parts = [text(BLOCK + 100, 3), randomish(BLOCK + 40_000, 4), text(2 * BLOCK, 5), randomish(5000, 6)];
    inputs.mixed = Buffer.concat(parts);
    inputs.empty = Buffer.alloc(0);
    inputs.oneByte = Buffer.from('x');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const kinds = ['random', 'text', 'mixed', 'empty', 'oneByte'];
  it.each(kinds)('writes %s data that GNU gzip checks and gunzips back', async (name) => {
    for (const level of [1, 6]) {
      const file = join(dir, `${name}-${level}.gz`);
      writeFileSync(file, await gz(inputs[name], { level }));
      execFileSync('gzip', ['-t', file]); // CRC-32 and ISIZE checked
      const back = execFileSync('gzip', ['-dc', file], { maxBuffer: 64 * MiB });
      expect(back.equals(inputs[name])).toBe(true);
    }
  });

  it('stores incompressible blocks and compresses text', async () => {
    expect((await gz(inputs.random, { level: 1 })).length).toBeLessThan(inputs.random.length * 1.001 + 64);
    expect((await gz(inputs.text, { level: 1 })).length).toBeLessThan(inputs.text.length / 2);
  });

  it('gives the same bytes whatever the concurrency and however the input is cut', async () => {
    const want = await gz(inputs.mixed, { level: 6, concurrency: 1 }, 4096);
    for (const [concurrency, piece] of [
      [2, 1 << 20],
      [3, 77_777],
      [8, 3 * MiB],
      [16, 333],
    ] as const) {
      expect(sha(await gz(inputs.mixed, { level: 6, concurrency }, piece))).toBe(sha(want));
    }
    // The format is fixed (block size, dictionary, header): this digest is the same on every machine and run. It is
    // also what build's gzip wrote before it moved to util/pgzip.ts, so build digests did not change.
    expect(sha(want)).toBe(GOLDEN_MIXED_LEVEL6);
  });

  it("fails mid-stream with the source's error, pulling no further", async () => {
    let pulled = 0;
    async function* failing() {
      for (let i = 0; ; i++) {
        if (i === 6) throw new Error('source broke');
        pulled++;
        yield text(MiB, i);
      }
    }
    const out: Buffer[] = [];
    await expect(
      (async () => {
        for await (const b of pgzip(failing(), { concurrency: 1 })) out.push(b);
      })(),
    ).rejects.toThrow('source broke');
    expect(pulled).toBe(6);
  });

  it('stops pulling the source when its reader stops', async () => {
    let pulled = 0;
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield text(MiB, i);
        }
      } finally {
        closed = true;
      }
    }
    let got = 0;
    for await (const b of pgzip(endless(), { concurrency: 2, level: 1 })) {
      got += b.length;
      if (got > 0 && pulled >= 8) break;
    }
    expect(closed).toBe(true);
    // Back-pressure: at most 2 × concurrency blocks in flight ahead of the reader, so the source was not drained ahead.
    expect(pulled).toBeLessThanOrEqual(12);
  });

  it('bounds the blocks in flight across streams: a second stream waits for the threads, not for memory', async () => {
    const pulls = [0, 0];
    async function* source(n: number) {
      for (let i = 0; i < 16; i++) {
        pulls[n]++;
        yield text(MiB, i);
      }
    }
    const a = pgzip(source(0), { concurrency: 2, level: 1 });
    const b = pgzip(source(1), { concurrency: 2, level: 1 });
    await a.next(); // a fills its 4 blocks in flight, then hands on the first
    await b.next(); // b may start one block (every stream moves) while a holds the rest of the 4
    expect(pulls[0]).toBeGreaterThanOrEqual(4);
    expect(pulls[1]).toBeLessThanOrEqual(2);
    for (const g of [a, b]) for await (const chunk of g) expect(chunk.length).toBeGreaterThan(0); // both finish
    expect(pulls).toEqual([16, 16]);
  });
});

const GOLDEN_MIXED_LEVEL6 = '03dab3460f991a844f770de9addfaa747b33088520bc013ca2460740ce3ed0c9';
