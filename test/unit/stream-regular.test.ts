// streamRegular and its abort signal: a signal that fires while the file is being opened (a blob asked for ahead, the
// command interrupted) fails the call; it is not an unhandled 'error' event on a stream nobody listens to yet, which
// killed `regctl copy oci:… REGISTRY` on Ctrl-C with exit 1 instead of 130 (about one run in ten).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamRegular } from '../../src/util/read.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('stream-regular');
  await writeFile(join(dir, 'blob'), Buffer.alloc(200_000, 7));
});
afterAll(async () => removeTempDir(dir));

describe('streamRegular and its abort signal', () => {
  it('a signal aborted before the stream exists: the call rejects with its reason, nothing is thrown later', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const controller = new AbortController();
      controller.abort(new Error('interrupted'));
      await expect(
        streamRegular(join(dir, 'blob'), { within: dir, size: 200_000, signal: controller.signal }),
      ).rejects.toThrow('interrupted');
      await new Promise((r) => setTimeout(r, 20));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('aborted after it is returned: reading it rejects with an AbortError', async () => {
    const controller = new AbortController();
    const stream = await streamRegular(join(dir, 'blob'), { within: dir, size: 200_000, signal: controller.signal });
    controller.abort(new Error('interrupted'));
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
