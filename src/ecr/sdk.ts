// The AWS SDK's ECR client, imported on first use (it is large) and one client per region and endpoint.
import type { EcrTarget } from './host.js';

type EcrModule = typeof import('@aws-sdk/client-ecr');
let sdk: Promise<EcrModule> | undefined;
export const loadSdk = (): Promise<EcrModule> => {
  // The SDK's own Node-version notice would land in the middle of our stderr output: regctl states its engines itself.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return (sdk ??= import('@aws-sdk/client-ecr'));
};

const clients = new Map<string, InstanceType<EcrModule['ECRClient']>>();
export async function ecrClient(t: EcrTarget): Promise<InstanceType<EcrModule['ECRClient']>> {
  const key = `${t.region}|${t.endpoint ?? ''}|${t.fips ? 'fips' : ''}`;
  let c = clients.get(key);
  if (!c) {
    const { ECRClient } = await loadSdk();
    c = new ECRClient({
      region: t.region,
      ...(t.endpoint ? { endpoint: t.endpoint } : t.fips ? { useFipsEndpoint: true } : {}),
    });
    clients.set(key, c);
  }
  return c;
}
