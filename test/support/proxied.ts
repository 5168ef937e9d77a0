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
