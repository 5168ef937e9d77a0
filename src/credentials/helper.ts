// docker-credential-NAME helpers: `get`, `store`, `erase` over stdin/stdout JSON, with a timeout; secrets never logged.
import { RegctlError } from '../errors.js';
import type { Credential } from './index.js';

const TIMEOUT_MS = 30_000;

async function run(
  name: string,
  verb: 'get' | 'store' | 'erase',
  input: string,
  signal?: AbortSignal,
): Promise<{ code: number; stdout: string }> {
  if (!/^[\w.-]+$/.test(name))
    throw new RegctlError('CRED_HELPER', `invalid credential helper name ${JSON.stringify(name)}`);
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${name}`, [verb], {
      stdio: ['pipe', 'pipe', 'pipe'],
      signal,
      timeout: TIMEOUT_MS,
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.resume();
    child.on('error', (err) => {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new RegctlError(
          'CRED_HELPER',
          `credential helper docker-credential-${name}: ${missing ? 'not found on PATH' : err.message}`,
          {
            hint: missing ? `install docker-credential-${name} or remove it from docker's config.json` : undefined,
          },
        ),
      );
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export async function helperGet(
  name: string,
  serverUrl: string,
  signal?: AbortSignal,
): Promise<Credential | undefined> {
  const { code, stdout } = await run(name, 'get', serverUrl, signal);
  if (code !== 0) {
    // Helpers answer "credentials not found in native keychain" with exit 1: no credentials, not an error.
    if (/not found/i.test(stdout) || stdout.trim() === '') return undefined;
    throw new RegctlError('CRED_HELPER', `credential helper docker-credential-${name} failed for ${serverUrl}`);
  }
  let doc: { Username?: string; Secret?: string };
  try {
    doc = JSON.parse(stdout) as typeof doc;
  } catch {
    throw new RegctlError('CRED_HELPER', `credential helper docker-credential-${name} answered with invalid JSON`);
  }
  if (!doc.Secret) return undefined;
  if (doc.Username === '<token>') return { username: '<token>', identityToken: doc.Secret };
  return { username: doc.Username ?? '', password: doc.Secret };
}

export async function helperStore(
  name: string,
  serverUrl: string,
  cred: { username: string; password: string },
): Promise<void> {
  const { code } = await run(
    name,
    'store',
    JSON.stringify({ ServerURL: serverUrl, Username: cred.username, Secret: cred.password }),
  );
  if (code !== 0)
    throw new RegctlError(
      'CRED_HELPER',
      `credential helper docker-credential-${name} could not store credentials for ${serverUrl}`,
    );
}

export async function helperErase(name: string, serverUrl: string): Promise<void> {
  const { code } = await run(name, 'erase', serverUrl);
  if (code !== 0)
    throw new RegctlError(
      'CRED_HELPER',
      `credential helper docker-credential-${name} could not erase credentials for ${serverUrl}`,
    );
}
