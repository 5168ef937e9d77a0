// A GHCR stand-in: a plain registry behind a front that answers as ghcr.io where it differs. Evidence: README.md here.
import { type Front, sendRegistryError, startFront } from './front.js';
import { type RegistryHandle, startRegistry } from './registry.js';

export interface Ghcr {
  front: Front;
  registry: RegistryHandle;
  /** The hosts config that points ghcr.io here. */
  hostsConfig(): { hosts: Record<string, { endpoint: string }> };
  stop(): Promise<void>;
}

export async function startGhcr(): Promise<Ghcr> {
  const registry = await startRegistry();
  const front = await startFront(registry.url, {
    intercept(r) {
      // ghcr.io refuses manifest DELETE with 405 UNSUPPORTED; versions are deleted through the GitHub Packages API
      // (containers/skopeo#1880).
      if (r.record.kind !== 'manifest-delete') return false;
      sendRegistryError(r, 405, 'UNSUPPORTED', 'The operation is unsupported.');
      return true;
    },
  });
  return {
    front,
    registry,
    hostsConfig: () => ({ hosts: { 'ghcr.io': { endpoint: front.url } } }),
    async stop() {
      await front.stop();
      await registry.stop();
    },
  };
}
