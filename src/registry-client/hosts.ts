// Where a registry's API lives and how to reach it: endpoint mirrors, the HTTPS→HTTP fallback on loopback, TLS modes, CAs.
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from './undici-lite.js';
import type { HostConfig, RegctlConfig } from '../config.js';
import { RegctlError, UsageError, isAbortError } from '../errors.js';
import { apiHostOf } from '../location/reference.js';

export interface HostOptions {
  config: RegctlConfig;
  plainHttp: boolean;
  insecure: boolean;
  /** Max connections per origin. */
  connections: number;
  /** ms to wait for a connection, for response headers, and between body chunks. */
  timeoutMs?: number;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Keeps one undici Agent per TLS mode/CA, and the scheme each registry answered on. */
export class Hosts {
  private agents = new Map<string, InstanceType<typeof Agent>>();
  private origins = new Map<string, Promise<string>>();

  constructor(readonly opts: HostOptions) {}

  hostConfig(registry: string): HostConfig | undefined {
    return this.opts.config.hosts[registry];
  }

  dispatcherFor(registry: string | undefined): Dispatcher {
    const cfg = registry ? this.hostConfig(registry) : undefined;
    const insecure = this.opts.insecure || cfg?.tls === 'insecure';
    const key = `${insecure ? 'insecure' : 'verify'}|${cfg?.ca ?? ''}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const connect: Record<string, unknown> = { rejectUnauthorized: !insecure };
      if (cfg?.ca) {
        try {
          connect.ca = readFileSync(cfg.ca, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read CA file ${cfg.ca} for ${registry}: ${(err as Error).message}`);
        }
      }
      const t = this.opts.timeoutMs;
      agent = new Agent({
        connections: this.opts.connections,
        keepAliveTimeout: 30_000,
        connect: { ...connect, ...(t ? { timeout: t } : {}) },
        ...(t ? { headersTimeout: t, bodyTimeout: t } : {}),
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** The base URL (`https://host[:port]`) of a registry's API, probing HTTPS then HTTP on loopback like docker. */
  origin(registry: string, signal: AbortSignal): Promise<string> {
    let p = this.origins.get(registry);
    if (!p) {
      p = this.probe(registry, signal);
      this.origins.set(registry, p);
      p.catch(() => this.origins.delete(registry));
    }
    return p;
  }

  private async probe(registry: string, signal: AbortSignal): Promise<string> {
    const cfg = this.hostConfig(registry);
    const endpoint = cfg?.endpoint;
    if (endpoint && /^https?:\/\//.test(endpoint)) return endpoint.replace(/\/+$/, '');
    const host = endpoint ?? apiHostOf(registry);
    if (this.opts.plainHttp || cfg?.tls === 'disabled') return `http://${host}`;
    if (!isLoopback(host)) return `https://${host}`;
    try {
      const res = await request(`https://${host}/v2/`, { method: 'GET', dispatcher: this.dispatcherFor(registry), signal });
      await res.body.dump();
      return `https://${host}`;
    } catch (err) {
      if (isAbortError(err)) throw err;
      return `http://${host}`;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close().catch(() => {})));
    this.agents.clear();
  }
}

export function connectError(registry: string, err: unknown): RegctlError {
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string })?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  let hint: string | undefined;
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) hint = 'the TLS certificate is not trusted: set a CA in the hosts config, or --insecure';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') hint = 'check the registry host name';
  return new RegctlError('NETWORK', `${registry}: ${code ? `${code} ` : ''}${msg}`.trim(), { hint, cause: err });
}
