// runPool: the limit, largest first, the reserved slots for small tasks, the first failure aborting the rest.
import { describe, expect, it } from 'vitest';
import { LIGHT_TASK, SMALL_TASK, Slots, runPool } from '../../src/copy/pool.js';

const MiB = 1024 * 1024;
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Tasks that record when they start and how many run at once; each is released by `release(name)`. */
function harness() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  let running = 0;
  let peak = 0;
  const task = (name: string, weight: number) => ({
    weight,
    run: async () => {
      started.push(name);
      peak = Math.max(peak, ++running);
      await new Promise<void>((r) => gates.set(name, r));
      running--;
      return name;
    },
  });
  const release = (name: string) => {
    const g = gates.get(name);
    if (!g) throw new Error(`${name} has not started`);
    g();
  };
  return { started, task, release, peak: () => peak };
}

describe('runPool', () => {
  it('runs at most `limit` tasks, largest first, and returns results in task order', async () => {
    const h = harness();
    const tasks = [h.task('a', 1 * MiB), h.task('b', 8 * MiB), h.task('c', 4 * MiB), h.task('d', 2 * MiB)];
    const done = runPool(tasks, 2, new AbortController().signal);
    await tick();
    expect(h.started).toEqual(['b', 'c']);
    h.release('c');
    await tick();
    expect(h.started).toEqual(['b', 'c', 'd']);
    h.release('b');
    await tick();
    h.release('d');
    await tick();
    h.release('a');
    expect(await done).toEqual(['a', 'b', 'c', 'd']);
    expect(h.peak()).toBe(2);
  });

  it('small tasks (an image config) have one of the `limit` slots kept for them, never an extra one', async () => {
    const h = harness();
    const tasks = [
      h.task('big1', 64 * MiB),
      h.task('big2', 64 * MiB),
      h.task('big3', 64 * MiB),
      h.task('cfg1', 700),
      h.task('cfg2', 900),
      h.task('cfg3', SMALL_TASK - 1),
    ];
    const done = runPool(tasks, 2, new AbortController().signal);
    await tick();
    // One big task, and the largest small one in the slot kept for small tasks: two in all.
    expect(h.started).toEqual(['big1', 'cfg3']);
    h.release('cfg3');
    await tick();
    // The next small one passes the big ones waiting.
    expect(h.started).toEqual(['big1', 'cfg3', 'cfg2']);
    h.release('cfg2');
    await tick();
    h.release('cfg1');
    await tick();
    // No small task left to come: big tasks may take every slot.
    expect(h.started.slice(3)).toEqual(['cfg1', 'big2']);
    h.release('big1');
    await tick();
    expect(h.started).toContain('big3');
    h.release('big2');
    h.release('big3');
    expect(await done).toHaveLength(6);
    expect(h.peak()).toBe(2);
  });

  it('pools sharing one Slots (sync) stay under its limit together', async () => {
    const h = harness();
    const slots = new Slots(2);
    const a = runPool([h.task('a-big', 8 * MiB), h.task('a-cfg', 1000)], slots, new AbortController().signal);
    const b = runPool([h.task('b-big', 8 * MiB), h.task('b-cfg', 1000)], slots, new AbortController().signal);
    await tick();
    expect(h.started).toEqual(['a-big', 'a-cfg']);
    h.release('a-cfg');
    await tick();
    expect(h.started).toEqual(['a-big', 'a-cfg', 'b-cfg']);
    h.release('b-cfg');
    await tick();
    expect(h.started).toEqual(['a-big', 'a-cfg', 'b-cfg', 'b-big']);
    h.release('a-big');
    h.release('b-big');
    await Promise.all([a, b]);
    expect(h.peak()).toBe(2);
  });

  it('with no big task, or one slot only, there is no extra lane', async () => {
    const h = harness();
    const done = runPool([h.task('x', 100), h.task('y', 200), h.task('z', 300)], 1, new AbortController().signal);
    await tick();
    expect(h.started).toEqual(['z']);
    h.release('z');
    await tick();
    h.release('y');
    await tick();
    h.release('x');
    await done;
    expect(h.peak()).toBe(1);
  });

  it('the first failure aborts the others and is the error reported', async () => {
    const seen: string[] = [];
    const tasks = [
      { weight: 2, run: async () => Promise.reject(new Error('boom')) },
      {
        weight: 1,
        run: (signal: AbortSignal) =>
          new Promise<string>((_, reject) =>
            signal.addEventListener('abort', () => {
              seen.push('aborted');
              reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
            }),
          ),
      },
    ];
    await expect(runPool(tasks, 2, new AbortController().signal)).rejects.toThrow('boom');
    expect(seen).toEqual(['aborted']);
  });
});

describe('Slots with extra lanes for light tasks (no --jobs given)', () => {
  it('light tasks (under LIGHT_TASK) run up to lightLimit at once while big ones stay within limit', async () => {
    const h = harness();
    const big = Array.from({ length: 4 }, (_, i) => h.task(`big${i}`, LIGHT_TASK + i));
    const light = Array.from({ length: 8 }, (_, i) => h.task(`light${i}`, LIGHT_TASK - 1 - i));
    const cfg = h.task('cfg', 900);
    const done = runPool([...big, ...light, cfg], new Slots(2, 6), new AbortController().signal);
    await tick();
    // Largest first: two big ones (limit 2), then light ones fill the lanes up to 6 in all; the other big ones wait.
    expect(h.started).toEqual(['big3', 'big2', 'light0', 'light1', 'light2', 'light3']);
    h.release('big3');
    await tick();
    // A big one's slot goes to the next big one, not to a light one.
    expect(h.started.slice(6)).toEqual(['big1']);
    h.release('light0');
    await tick();
    expect(h.started.slice(7)).toEqual(['light4']);
    for (const name of ['big2', 'big1', 'light1', 'light2', 'light3', 'light4']) h.release(name);
    await tick();
    expect(h.started.slice(8)).toEqual(['big0', 'light5', 'light6', 'light7', 'cfg']);
    for (const name of ['big0', 'light5', 'light6', 'light7', 'cfg']) h.release(name);
    await done;
    expect(h.peak()).toBe(6);
  });

  it('lightLimit equal to limit (a --jobs the user gave) keeps the old rules: every task within limit', async () => {
    const h = harness();
    const tasks = Array.from({ length: 6 }, (_, i) => h.task(`t${i}`, 1 * MiB + i));
    const done = runPool(tasks, new Slots(3, 3), new AbortController().signal);
    await tick();
    expect(h.started).toHaveLength(3);
    for (let i = 0; i < 6; i++) {
      const name = `t${5 - i}`;
      await tick();
      h.release(name);
    }
    await done;
    expect(h.peak()).toBe(3);
  });

  it('lightLimit is never below limit', () => {
    expect(new Slots(8, 2).lightLimit).toBe(8);
    expect(new Slots(8, 32).lightLimit).toBe(32);
  });
});
