// Proves test/support/docker.ts: a private daemon that answers, runs a container, and leaves nothing behind.
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import {
  BUSYBOX_GREETING,
  describeDocker,
  makeBusyboxContext,
  makeBusyboxLayout,
  startDocker,
} from './support/docker.js';
import { makeTempDir, removeTempDir } from './support/lifecycle.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

describeDocker('startDocker', () => {
  it('answers on its own socket, runs a container; stop() ends dockerd and containerd, removes its dir', async () => {
    const d = await startDocker();
    const root = dirname(d.dir);
    try {
      expect(d.host).toBe(`unix://${join(root, 'd.sock')}`);
      expect(d.version).toMatch(/^\d+\.\d+/);
      const dockerd = Number(await readFile(join(root, 'd.pid'), 'utf8'));
      const containerd = Number(await readFile(join(root, 'x', 'containerd', 'containerd.pid'), 'utf8'));
      expect([alive(dockerd), alive(containerd)]).toEqual([true, true]);
      // docker build (classic builder, vfs) of the busybox context, then a container without a network.
      const ctx = join(d.dir, 'ctx');
      const cmd = `CMD ["/bin/busybox", "echo", "${BUSYBOX_GREETING}"]`;
      await makeBusyboxContext(ctx, `FROM scratch\nCOPY bin/busybox /bin/busybox\n${cmd}\n`);
      await d.docker(['build', '-q', '-t', 'probe:1', ctx]);
      expect((await d.docker(['run', '--rm', '--network', 'none', 'probe:1'])).stdout.trim()).toBe(BUSYBOX_GREETING);
      expect((await d.docker(['run', '--rm', 'no/such:image'], { reject: false })).code).not.toBe(0);
      expect(await d.inspectImage('no/such:image')).toBeUndefined();
      await d.stop();
      expect([alive(dockerd), alive(containerd)]).toEqual([false, false]);
      expect(await exists(root)).toBe(false);
      expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(root)).toBe(false);
      await d.stop(); // idempotent
    } finally {
      await d.stop();
    }
  });

  it('a daemon that cannot start is reported with its log, and leaves no dir behind', async () => {
    const err = await startDocker({ args: ['--no-such-flag'] }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/exited during start-up:[\s\S]*no-such-flag/);
    const dir = /dockerd \(in (\S+)\)/.exec(err?.message ?? '')?.[1];
    expect(dir).toMatch(/regctl-dk-/);
    expect(await exists(dir!)).toBe(false);
  });
});

it('the busybox fixture is reproducible: the same digests on every build', async () => {
  const work = await makeTempDir('bb-fixture');
  try {
    const a = await makeBusyboxLayout(join(work, 'a'), { config: { User: '1' } });
    const b = await makeBusyboxLayout(join(work, 'b'), { config: { User: '1' } });
    expect(b.manifestDigest).toBe(a.manifestDigest);
    const c = await makeBusyboxLayout(join(work, 'c'), { files: { 'etc/x': 'y' } });
    expect(c.manifestDigest).not.toBe(a.manifestDigest);
  } finally {
    await removeTempDir(work);
  }
});
