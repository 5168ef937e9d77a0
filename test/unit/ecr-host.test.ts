// ECR registry hosts (amazon-ecr-credential-helper's pattern): every partition, FIPS and dual-stack; and what is not
// ECR.
import { describe, expect, it } from 'vitest';
import { ecrTarget, parseEcrHost } from '../../src/ecr/host.js';

describe('parseEcrHost', () => {
  it.each([
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'us-east-1', false],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com:443', 'us-east-1', false],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', 'us-gov-west-1', true],
    ['123456789012.dkr-ecr.eu-west-1.on.aws', 'eu-west-1', false],
    ['123456789012.dkr-ecr-fips.us-east-2.on.aws', 'us-east-2', true],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', 'cn-north-1', false],
    ['123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn', 'cn-northwest-1', false],
    ['123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu', 'eusc-de-east-1', false],
    ['123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov', 'us-iso-east-1', false],
    ['123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov', 'us-isob-east-1', false],
    ['123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk', 'eu-isoe-west-1', false],
    ['123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov', 'us-isof-south-1', false],
  ])('%s is ECR in %s (fips %s)', (host, region, fips) => {
    expect(parseEcrHost(host)).toEqual({ account: '123456789012', region, fips });
  });

  it.each([
    'public.ecr.aws',
    '12345678901.dkr.ecr.us-east-1.amazonaws.com',
    '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example',
    'evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com',
    '123456789012.dkr.ecr.us-east-1.example.com',
    'docker.io',
    '127.0.0.1:5000',
  ])('%s is not ECR', (host) => {
    expect(parseEcrHost(host)).toBeUndefined();
  });
});

describe('ecrTarget', () => {
  it('takes the region from the host, and the endpoint from the hosts config', () => {
    expect(ecrTarget('123456789012.dkr.ecr-fips.us-east-1.amazonaws.com', undefined)).toEqual({
      region: 'us-east-1',
      account: '123456789012',
      fips: true,
    });
    expect(
      ecrTarget('127.0.0.1:5000', { type: 'ecr', region: 'eu-west-1', ecrEndpoint: 'http://127.0.0.1:9' }),
    ).toEqual({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' });
    expect(ecrTarget('127.0.0.1:5000', {})).toBeUndefined();
  });

  it('a host marked ecr without a region is a config error (exit 2)', () => {
    expect(() => ecrTarget('127.0.0.1:5000', { type: 'ecr' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', exitCode: 2 }),
    );
  });
});
