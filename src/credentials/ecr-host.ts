// ECR registry hosts (amazon-ecr-credential-helper's pattern): account, region, partition, FIPS and dual-stack forms.
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
