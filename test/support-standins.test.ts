// Proves the stand-ins: the ECR API as the real @aws-sdk/client-ecr sees it, the ECR registry front, the fake
// credential helper.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
  BatchDeleteImageCommand,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCredHelper } from './support/cred-helper.js';
import { ACCOUNT, type EcrHandle, startEcr } from './support/ecr-api.js';
import { ACCEPT_MANIFESTS } from './support/http.js';
import { makeImageLayout, registryDigest, seedImage } from './support/images.js';
import { makeTempDir, removeTempDir } from './support/lifecycle.js';
import { type RegistryHandle, startRegistry } from './support/registry.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let reg: RegistryHandle;
let ecr: EcrHandle;
let sdk: ECRClient;
let work: string;

beforeAll(async () => {
  work = await makeTempDir('standins');
  reg = await startRegistry();
  ecr = await startEcr({ registryUrl: reg.url, registryRoot: reg.root, repositories: ['seeded/app', 'twotags/app'] });
  sdk = new ECRClient({
    region: 'us-east-1',
    endpoint: ecr.endpoint,
    credentials: { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'x' },
  });
});

afterAll(async () => {
  sdk?.destroy();
  await ecr?.stop();
  await reg?.stop();
  await removeTempDir(work);
});

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error) => ({ name: e.name, message: e.message }),
  );

describe('ECR API stand-in (through the real SDK)', () => {
  it('GetAuthorizationToken: base64 AWS:<password>, an expiry, the proxy endpoint; the call is signed (SigV4)', async () => {
    const out = await sdk.send(new GetAuthorizationTokenCommand({}));
    const data = out.authorizationData![0];
    expect(Buffer.from(data.authorizationToken!, 'base64').toString()).toMatch(/^AWS:.{20,}$/);
    expect(data.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 11 * 3600_000);
    expect(data.proxyEndpoint).toBe(`https://${ecr.host}`);
    expect(ecr.calls.at(-1)).toMatchObject({
      op: 'GetAuthorizationToken',
      accessKeyId: 'AKIDSTANDIN',
      region: 'us-east-1',
      service: 'ecr',
      status: 200,
    });
  });

  it('CreateRepository stores and echoes its settings; a second create is RepositoryAlreadyExistsException', async () => {
    const out = await sdk.send(
      new CreateRepositoryCommand({
        repositoryName: 'team/svc',
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'arn:aws:kms:us-east-1:123456789012:key/k' },
      }),
    );
    expect(out.repository).toMatchObject({
      repositoryName: 'team/svc',
      registryId: ACCOUNT,
      repositoryUri: `${ecr.host}/team/svc`,
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'arn:aws:kms:us-east-1:123456789012:key/k' },
    });
    expect(out.repository!.createdAt).toBeInstanceOf(Date);
    expect(await errorOf(sdk.send(new CreateRepositoryCommand({ repositoryName: 'team/svc' })))).toMatchObject({
      name: 'RepositoryAlreadyExistsException',
    });
    expect(await errorOf(sdk.send(new CreateRepositoryCommand({ repositoryName: 'Bad_Name!' })))).toMatchObject({
      name: 'InvalidParameterException',
    });
  });

  it('DescribeRepositories: by name (unknown → RepositoryNotFoundException) and paged with nextToken', async () => {
    const named = await sdk.send(new DescribeRepositoriesCommand({ repositoryNames: ['seeded/app'] }));
    expect(named.repositories!.map((r) => r.repositoryName)).toEqual(['seeded/app']);
    expect(await errorOf(sdk.send(new DescribeRepositoriesCommand({ repositoryNames: ['nope'] })))).toMatchObject({
      name: 'RepositoryNotFoundException',
    });
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sdk.send(new DescribeRepositoriesCommand({ maxResults: 1, nextToken }));
      expect(page.repositories!.length).toBeLessThanOrEqual(1);
      names.push(...page.repositories!.map((r) => r.repositoryName!));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(names).toEqual([...ecr.state.repositories.keys()].sort());
  });

  it('BatchDeleteImage by tag only untags an image that keeps other tags; its last tag deletes it', async () => {
    const img = await makeImageLayout(join(work, 'img2'), { layers: [1000], seed: 'standin-two', tag: 'v1' });
    await seedImage(`oci:${img.dir}:v1`, `${reg.host}/twotags/app:v1`);
    await seedImage(`oci:${img.dir}:v1`, `${reg.host}/twotags/app:v2`);
    const first = await sdk.send(
      new BatchDeleteImageCommand({ repositoryName: 'twotags/app', imageIds: [{ imageTag: 'v1' }] }),
    );
    expect(first.imageIds).toEqual([{ imageDigest: img.manifestDigest, imageTag: 'v1' }]);
    await expect(registryDigest(reg.host, 'twotags/app', 'v1')).rejects.toThrow(/404/);
    expect(await registryDigest(reg.host, 'twotags/app', 'v2')).toBe(img.manifestDigest);
    await sdk.send(new BatchDeleteImageCommand({ repositoryName: 'twotags/app', imageIds: [{ imageTag: 'v2' }] }));
    await expect(registryDigest(reg.host, 'twotags/app', img.manifestDigest)).rejects.toThrow(/404/);
  });

  it('BatchDeleteImage deletes by tag or digest in the registry behind, and reports what it could not find', async () => {
    const img = await makeImageLayout(join(work, 'img'), { layers: [1000], seed: 'standin', tag: 'v1' });
    await seedImage(`oci:${img.dir}:v1`, `${reg.host}/seeded/app:v1`);
    const out = await sdk.send(
      new BatchDeleteImageCommand({
        repositoryName: 'seeded/app',
        imageIds: [{ imageTag: 'v1' }, { imageTag: 'missing' }],
      }),
    );
    expect(out.imageIds).toEqual([{ imageDigest: img.manifestDigest, imageTag: 'v1' }]);
    expect(out.failures).toEqual([
      { imageId: { imageTag: 'missing' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' },
    ]);
    await expect(registryDigest(reg.host, 'seeded/app', img.manifestDigest)).rejects.toThrow(/404/);
    expect(
      await errorOf(sdk.send(new BatchDeleteImageCommand({ repositoryName: 'nope', imageIds: [{ imageTag: 'x' }] }))),
    ).toMatchObject({
      name: 'RepositoryNotFoundException',
    });
  });

  it('refuses unsigned calls and unknown operations as AWS does', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(ecr.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', ...headers },
        body: '{}',
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    expect(await post({ 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken' })).toMatchObject({
      status: 403,
      body: { __type: 'MissingAuthenticationTokenException' },
    });
    const signed = {
      authorization:
        `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecr/aws4_request, ` +
        `SignedHeaders=host, Signature=${'0'.repeat(64)}`,
    };
    expect(await post({ ...signed, 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.NoSuchThing' })).toMatchObject(
      {
        status: 400,
        body: { __type: 'UnknownOperationException' },
      },
    );
  });
});

describe('ECR registry front', () => {
  it('wants Basic AWS:<current password>; NAME_UNKNOWN for repositories never created; expired passwords refused', async () => {
    const pass = await ecr.loginPassword();
    const auth = { authorization: `Basic ${Buffer.from(`AWS:${pass}`).toString('base64')}` };
    const anon = await fetch(`${ecr.front.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const wrong = await fetch(`${ecr.front.url}/v2/`, {
      headers: { authorization: `Basic ${Buffer.from('AWS:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${ecr.front.url}/v2/`, { headers: auth })).status).toBe(200);
    const unknown = await fetch(`${ecr.front.url}/v2/never/made/manifests/v1`, {
      headers: { ...auth, accept: ACCEPT_MANIFESTS },
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { errors: Array<{ code: string }> }).errors[0].code).toBe('NAME_UNKNOWN');
    expect((await fetch(`${ecr.front.url}/v2/seeded/app/tags/list`, { headers: auth })).status).toBe(200);
    ecr.revokeTokens();
    expect((await fetch(`${ecr.front.url}/v2/`, { headers: auth })).status).toBe(401);
    expect(ecr.front.count('ping')).toBe(4);
  });
});

describe('fake docker credential helper', () => {
  it('speaks get/store/erase/list like docker-credential-*', async () => {
    const h = await makeCredHelper('selftest');
    const call = (verb: string, input: string) =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        const child = execFile(join(h.dir, 'docker-credential-selftest'), [verb], (err, stdout) =>
          resolve({ code: err ? Number(err.code) : 0, stdout }),
        );
        child.stdin!.end(input);
      });
    try {
      expect(await call('get', 'reg.example')).toEqual({
        code: 1,
        stdout: 'credentials not found in native keychain\n',
      });
      expect((await call('store', JSON.stringify({ ServerURL: 'reg.example', Username: 'u', Secret: 's' }))).code).toBe(
        0,
      );
      expect(JSON.parse((await call('get', 'reg.example')).stdout)).toEqual({
        ServerURL: 'reg.example',
        Username: 'u',
        Secret: 's',
      });
      expect(JSON.parse((await call('list', '')).stdout)).toEqual({ 'reg.example': 'u' });
      expect((await call('erase', 'reg.example')).code).toBe(0);
      expect(await h.store()).toEqual({});
      expect((await h.calls()).map((c) => c.verb)).toEqual(['get', 'store', 'get', 'list', 'erase']);
    } finally {
      await h.remove();
    }
  });
});
