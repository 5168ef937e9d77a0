// createContext: the app's wiring — credentials chain, registry clients, the retry report — behind AppContext.
import { type RegctlConfig, loadConfig } from './config.js';
import type { AppContext, GlobalOptions, IO, Role } from './context.js';
import { type Credential, type CredentialSource, chain, fixedSource, parseUserPass } from './credentials/index.js';
import { dockerAuthEnvSource, dockerConfigSource } from './credentials/docker-config.js';
import { ecrSource } from './ecr/credentials.js';
import { keychainSource } from './credentials/keychain.js';
import { UsageError } from './errors.js';
import { rememberLogin } from './util/secrets.js';
import type { Logger } from './util/log.js';
import { RetryReport } from './output/retry-report.js';
import { RegistryClient } from './registry-client/client.js';
import { Hosts } from './registry-client/hosts.js';
import { type HttpContext, newHttpContext } from './registry-client/http.js';
import type { RateLimit } from './registry-client/ratelimit.js';
import { VERSION } from './version.js';

/** What the process (cli.ts) does around the registry client, never the client itself: V8 flags, for one. */
export interface ProcessHooks {
  beforeFirstConnection?: () => void;
}

export function createContext(
  io: IO,
  env: NodeJS.ProcessEnv,
  globals: GlobalOptions,
  log: Logger,
  signal: AbortSignal,
  hooks: ProcessHooks = {},
): AppContext {
  let config: RegctlConfig | undefined;
  let hosts: Hosts | undefined;
  const clients = new Map<Role, RegistryClient>();
  const retryReport = new RetryReport();
  // What each registry last said of its rate limit (Docker Hub's headers): warnings and sync's rate gate read it.
  const rateLimits = new Map<string, RateLimit>();
  const flagCred = (text: string | undefined, flag: string): Credential | undefined => {
    if (text === undefined) return undefined;
    if (!text.includes(':')) throw new UsageError(`${flag} takes USER:PASS`);
    const cred = parseUserPass(text);
    rememberLogin(cred.username, cred.password);
    return cred;
  };
  const ctx: AppContext = {
    io,
    env,
    signal,
    globals,
    log,
    rateLimit: (registry) => rateLimits.get(registry),
    config: () => (config ??= loadConfig(env)),
    hosts: () =>
      (hosts ??= new Hosts({
        config: ctx.config(),
        plainHttp: globals.plainHttp,
        insecure: globals.insecure,
        connections: Math.max(globals.jobs, globals.lightJobs) + 4,
        timeoutMs: globals.timeout,
        ...(hooks.beforeFirstConnection ? { beforeFirstConnection: hooks.beforeFirstConnection } : {}),
      })),
    client(role) {
      let c = clients.get(role);
      if (c) return c;
      const roleCred =
        role === 'src'
          ? flagCred(globals.srcCreds, '--src-creds')
          : role === 'dst'
            ? flagCred(globals.destCreds, '--dest-creds')
            : undefined;
      const anyCred = flagCred(globals.creds, '--creds');
      const sources: CredentialSource[] = [];
      if (roleCred) sources.push(fixedSource(roleCred, 'all'));
      if (anyCred) sources.push(fixedSource(anyCred, 'all'));
      sources.push(
        ecrSource(() => ctx.config().hosts, env),
        dockerAuthEnvSource(env),
        dockerConfigSource(env),
        keychainSource(env),
      );
      const http: HttpContext = newHttpContext({
        hosts: ctx.hosts(),
        credentials: chain(...sources),
        retries: globals.retries,
        maxRetryAfterMs: 120_000,
        userAgent: `regctl-js/${VERSION}`,
        debug: globals.debug ? (line) => log.debug(line) : undefined,
        onRetry: (r) => {
          // One line per retried operation, naming the side and host; every attempt is still in --debug.
          const side = role === 'src' ? 'source' : role === 'dst' ? 'destination' : undefined;
          const line = retryReport.line({ what: r.what, reason: r.reason, side, host: r.registry, delayMs: r.delayMs });
          log.debug(`retry ${r.what} in ${(r.delayMs / 1000).toFixed(1)} s (attempt ${r.attempt}: ${r.reason})`);
          if (line) log.info(line);
        },
        onRateLimit: (registry, rl) => rateLimits.set(registry, rl),
      });
      c = new RegistryClient(http);
      clients.set(role, c);
      return c;
    },
    async close() {
      await hosts?.close();
    },
  };
  return ctx;
}
