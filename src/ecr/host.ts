// ECR registry hosts: the host pattern (amazon-ecr-credential-helper's), and where a registry's ECR API is.
import type { HostConfig } from '../config.js';
import { RegctlError } from '../errors.js';

// amazon-ecr-credential-helper's pattern: account, region, partition, FIPS and dual-stack forms.
const ECR_HOST =
  /^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\.(amazonaws\.(?:com(?:\.cn)?|eu)|on\.(?:aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;

export interface EcrHost {
  account: string;
  region: string;
  fips: boolean;
}

export function parseEcrHost(host: string): EcrHost | undefined {
  const m = ECR_HOST.exec(host.replace(/:\d+$/, ''));
  return m ? { account: m[1], region: m[3], fips: m[2] !== undefined } : undefined;
}

export interface EcrTarget {
  region: string;
  endpoint?: string;
  account?: string;
  /** The host is a FIPS endpoint (`dkr-ecr-fips`, `dkr.ecr-fips`): so is the API. */
  fips?: boolean;
}

/** Whether a registry is ECR (by host pattern or the hosts config), and where its API is. */
export function ecrTarget(registry: string, cfg: HostConfig | undefined): EcrTarget | undefined {
  const parsed = parseEcrHost(registry);
  if (!parsed && cfg?.type !== 'ecr') return undefined;
  const region = cfg?.region ?? parsed?.region;
  if (!region)
    throw new RegctlError('CONFIG_INVALID', `hosts config for ${registry}: type "ecr" needs a region`, { exitCode: 2 });
  const t: EcrTarget = { region };
  if (cfg?.ecrEndpoint) t.endpoint = cfg.ecrEndpoint;
  if (parsed) t.account = parsed.account;
  if (parsed?.fips) t.fips = true;
  return t;
}
