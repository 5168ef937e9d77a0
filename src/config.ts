// The hosts config ($REGCTL_CONFIG or ~/.config/regctl/config.json): per-registry endpoint, TLS, CA and ECR settings.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { normalizeRegistry } from './location/reference.js';

export interface HostConfig {
  /** Mirror or pull-through cache for this registry: `https://mirror.example.com` or `127.0.0.1:5000`. */
  endpoint?: string;
  tls?: 'enabled' | 'insecure' | 'disabled';
  /** PEM file of extra CAs to trust for this host. */
  ca?: string;
  /** Accept a plain-HTTP token realm for this HTTPS registry (the password then crosses the network unencrypted). */
  allowHttpRealm?: boolean;
  type?: 'ecr';
  region?: string;
  ecrEndpoint?: string;
  createRepo?: { immutableTags?: boolean; scanOnPush?: boolean; kmsKey?: string };
}

export interface RegctlConfig {
  hosts: Record<string, HostConfig>;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.REGCTL_CONFIG || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'regctl', 'config.json');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RegctlConfig {
  const path = configPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    // A named file that is not there yet is an empty config, as docker treats DOCKER_CONFIG and kubectl KUBECONFIG.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { hosts: {} };
    throw new UsageError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError(`config ${path} is not valid JSON`);
  }
  const hosts = (doc as { hosts?: unknown })?.hosts ?? {};
  if (typeof hosts !== 'object' || hosts === null || Array.isArray(hosts))
    throw new UsageError(`config ${path}: "hosts" must be an object`);
  const out: Record<string, HostConfig> = {};
  for (const [name, raw] of Object.entries(hosts as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null)
      throw new UsageError(`config ${path}: hosts.${name} must be an object`);
    const h = raw as HostConfig;
    if (h.tls !== undefined && !['enabled', 'insecure', 'disabled'].includes(h.tls)) {
      throw new UsageError(`config ${path}: hosts.${name}.tls must be enabled, insecure or disabled`);
    }
    if (h.allowHttpRealm !== undefined && typeof h.allowHttpRealm !== 'boolean') {
      throw new UsageError(`config ${path}: hosts.${name}.allowHttpRealm must be true or false`);
    }
    if (h.type !== undefined && h.type !== 'ecr')
      throw new UsageError(`config ${path}: hosts.${name}.type must be "ecr"`);
    out[normalizeRegistry(name)] = h;
  }
  return { hosts: out };
}
