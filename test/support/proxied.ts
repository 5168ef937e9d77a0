// The set-up most integration files share: a temp dir, one real registry and a fault proxy in front of it, stopped in
// one call (proxy, registry, then the temp dir) from the afterAll of the file that started them.
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { makeTempDir, removeTempDir } from './lifecycle.js';
import { type RegistryHandle, type RegistryOptions, startRegistry } from './registry.js';

export interface ProxiedRegistry {
  work: string;
  reg: RegistryHandle;
  proxy: FaultProxy;
  stop(): Promise<void>;
}

export async function startProxiedRegistry(name: string, opts?: RegistryOptions): Promise<ProxiedRegistry> {
  const work = await makeTempDir(name);
  let reg: RegistryHandle | undefined;
  try {
    reg = await startRegistry(opts);
    const proxy = await startFaultProxy(reg.url);
    const started = reg;
    return {
      work,
      reg,
      proxy,
      async stop() {
        await proxy.stop();
        await started.stop();
        await removeTempDir(work);
      },
    };
  } catch (err) {
    await reg?.stop();
    await removeTempDir(work);
    throw err;
  }
}

/** Two registries, each behind its own fault proxy (A in front of the source, B of the destination), and a temp dir. */
export interface ProxiedPair {
  work: string;
  src: RegistryHandle;
  dst: RegistryHandle;
  A: FaultProxy;
  B: FaultProxy;
  /** Clears both proxies' faults and counters (between tests). */
  reset(): void;
  stop(): Promise<void>;
}

export async function startProxiedPair(name: string): Promise<ProxiedPair> {
  const work = await makeTempDir(name);
  const regs = await Promise.allSettled([startRegistry(), startRegistry()]);
  const proxies = await Promise.allSettled(
    regs.map((r) => (r.status === 'fulfilled' ? startFaultProxy(r.value.url) : Promise.reject(r.reason))),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(proxies.map((p) => (p.status === 'fulfilled' ? p.value.stop() : Promise.resolve())));
    await Promise.all(regs.map((r) => (r.status === 'fulfilled' ? r.value.stop() : Promise.resolve())));
    await removeTempDir(work);
  };
  const failed = [...regs, ...proxies].find((p) => p.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const [src, dst] = regs.map((r) => (r as PromiseFulfilledResult<RegistryHandle>).value) as [
    RegistryHandle,
    RegistryHandle,
  ];
  const [A, B] = proxies.map((p) => (p as PromiseFulfilledResult<FaultProxy>).value) as [FaultProxy, FaultProxy];
  return {
    work,
    src,
    dst,
    A,
    B,
    reset() {
      for (const p of [A, B]) {
        p.clearFaults();
        p.reset();
      }
    },
    stop,
  };
}
