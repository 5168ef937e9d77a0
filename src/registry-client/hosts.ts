// Where a registry's API lives and how to reach it: endpoint mirrors, the HTTPS→HTTP fallback on loopback, TLS modes,
// CAs.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { type Dispatcher, originPools } from './undici-lite.js';
import type { HostConfig, RegctlConfig } from '../config.js';
import { RegctlError, UsageError, codeInChain, isAbortError } from '../errors.js';
import { apiHostOf } from '../location/reference.js';
import { redactText } from './errors.js';
import { networkReason, sleep } from './retry.js';
import { speaksTls } from './tls-probe.js';

export interface HostOptions {
  config: RegctlConfig;
  plainHttp: boolean;
  insecure: boolean;
  /** Max connections per origin. */
  connections: number;
  /** ms to wait for a connection, for response headers, and between body chunks. */
  timeoutMs?: number;
  /** Called once, just before the first connection is set up (cli.ts sets its V8 flags for undici's llhttp here). */
  beforeFirstConnection?: () => void;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Keeps one dispatcher (a pool per origin) per TLS mode/CA, and the scheme each registry answered on. */
export class Hosts {
  private dispatchers = new Map<string, Dispatcher>();
  private origins = new Map<string, Promise<string>>();
  /** registry → time (ms) before which no request may start: one worker's Retry-After holds every worker. */
  private pauses = new Map<string, number>();
  /** The dispatchers were closed (the command is over): requests still in flight fail for that, and are not retried. */
  closed = false;

  constructor(readonly opts: HostOptions) {}

  /** Holds every request to `registry` until `until` (ms since the epoch); a later pause extends an earlier one. */
  pauseUntil(registry: string, until: number): void {
    if (until > (this.pauses.get(registry) ?? 0)) this.pauses.set(registry, until);
  }

  /** Resolves when no pause holds `registry` (at once when none does). */
  async waitForTurn(registry: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const wait = (this.pauses.get(registry) ?? 0) - Date.now();
      if (wait <= 0) return;
      await sleep(wait, signal);
    }
  }

  hostConfig(registry: string): HostConfig | undefined {
    return this.opts.config.hosts[registry];
  }

  dispatcherFor(registry: string | undefined): Dispatcher {
    const cfg = registry ? this.hostConfig(registry) : undefined;
    const insecure = this.opts.insecure || cfg?.tls === 'insecure';
    const key = `${insecure ? 'insecure' : 'verify'}|${cfg?.ca ?? ''}`;
    let dispatcher = this.dispatchers.get(key);
    if (!dispatcher) {
      const connect: Record<string, unknown> = { rejectUnauthorized: !insecure };
      if (cfg?.ca) {
        try {
          connect.ca = readFileSync(cfg.ca, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read CA file ${cfg.ca} for ${registry}: ${(err as Error).message}`);
        }
      }
      const t = this.opts.timeoutMs;
      if (this.dispatchers.size === 0) this.opts.beforeFirstConnection?.();
      dispatcher = originPools({
        connections: this.opts.connections,
        keepAliveTimeout: 30_000,
        connect: { ...connect, ...(t ? { timeout: t } : {}) },
        ...(t ? { headersTimeout: t, bodyTimeout: t } : {}),
      });
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
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
    const { hostname, port } = new URL(`https://${host}`);
    // Plain HTTP only when the server does not speak TLS at all: a TLS server whose certificate cannot be proved, or
    // a server that does not answer, never quietly becomes an unencrypted connection.
    try {
      const tls = await speaksTls(
        hostname.replace(/^\[|\]$/g, ''),
        Number(port || 443),
        signal,
        this.opts.timeoutMs ?? 10_000,
      );
      return tls ? `https://${host}` : `http://${host}`;
    } catch (err) {
      if (isAbortError(err)) throw err;
      // Nothing listens: the request itself reports that, naming what it was for.
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') return `http://${host}`;
      throw connectError(registry, err, this.opts.timeoutMs);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.dispatchers.values()].map((a) => a.close().catch(() => {})));
    this.dispatchers.clear();
  }
}

function isCertificateCode(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/.test(code);
}

/** True when no interface but loopback is up: a name that does not resolve then says nothing about the name. */
function offline(): boolean {
  try {
    return Object.values(networkInterfaces()).every((addrs) => (addrs ?? []).every((a) => a.internal));
  } catch {
    return false;
  }
}

/** A network failure reaching `registry` as a one-line error; `what` names the request when there was one. */
export function connectError(registry: string, err: unknown, timeoutMs?: number, what?: string): RegctlError {
  const code = codeInChain(err);
  const msg = err instanceof Error ? err.message : String(err);
  let hint: string | undefined;
  let reason: string;
  if (code && isCertificateCode(code)) {
    // About the registry, whichever request met it first.
    what = undefined;
    reason = `the TLS certificate is not trusted (${redactText(msg)})`;
    hint =
      `add the registry's CA to the hosts config ` +
      `($REGCTL_CONFIG: {"hosts": {"${registry}": {"ca": "/path/ca.pem"}}}), ` +
      `or skip verification with --insecure`;
  } else {
    reason = networkReason(err, timeoutMs);
    if ((code === 'ENOTFOUND' || code === 'EAI_AGAIN') && offline()) {
      reason = 'the host name cannot be resolved: no network is reachable (only loopback is up)';
      hint = 'connect to a network; a local file is written ./PATH';
    } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') hint = 'check the registry host name';
  }
  return new RegctlError('NETWORK', redactText(`${what ?? registry}: ${reason}`), { hint, cause: err });
}
