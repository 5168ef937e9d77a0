// The loopback HTTPS→HTTP probe: real servers on 127.0.0.1 (Node's HTTP and TLS servers, a raw TCP server), each
// stopped by the test that started it.
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Server, createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speaksTls } from '../../src/registry-client/tls-probe.js';
import { selfSignedCert } from '../support/certs.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';

let dir: string;
let key: string;
let cert: string;

beforeAll(async () => {
  dir = await makeTempDir('tls-probe');
  ({ key, cert } = await selfSignedCert(dir));
});
afterAll(() => removeTempDir(dir));

async function listening<S extends Server>(
  server: S,
): Promise<{ server: S; port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const signal = () => new AbortController().signal;

describe('speaksTls', () => {
  it.each([
    ['a TLS server: true, without trusting its certificate', {}],
    ['a TLS 1.3-only server answers the TLS 1.2 hello with an alert: still true', { minVersion: 'TLSv1.3' as const }],
  ])('%s', async (_name, extra) => {
    const s = await listening(createTlsServer({ key, cert, ...extra }, (sock) => sock.end()));
    s.server.on('tlsClientError', () => {});
    try {
      expect(await speaksTls('127.0.0.1', s.port, signal())).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('a plain HTTP server (it answers 400 to the binary hello): false, at once', async () => {
    const s = await listening(createHttpServer((_req, res) => res.end('ok')));
    let connections = 0;
    s.server.on('connection', () => connections++);
    try {
      // At once: the probe's timeout rejects (UND_ERR_CONNECT_TIMEOUT), so `false` can only come from the server's
      // answer; and one connection was enough.
      expect(await speaksTls('127.0.0.1', s.port, signal(), 5000)).toBe(false);
      expect(connections).toBe(1);
    } finally {
      s.server.closeAllConnections();
      await s.close();
    }
  });

  it('a server that hangs up: false', async () => {
    const s = await listening(createTcpServer((sock) => sock.once('data', () => sock.end())));
    try {
      expect(await speaksTls('127.0.0.1', s.port, signal())).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('nothing listening: rejects with ECONNREFUSED', async () => {
    const s = await listening(createTcpServer());
    const port = s.port;
    await s.close();
    await expect(speaksTls('127.0.0.1', port, signal())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('a server that never answers: rejects after the timeout; an abort ends the wait sooner', async () => {
    const held: import('node:net').Socket[] = [];
    const s = await listening(createTcpServer((sock) => void held.push(sock)));
    try {
      await expect(speaksTls('127.0.0.1', s.port, signal(), 200)).rejects.toMatchObject({
        code: 'UND_ERR_CONNECT_TIMEOUT',
      });
      const c = new AbortController();
      setTimeout(() => c.abort(Object.assign(new Error('interrupted'), { name: 'AbortError' })), 50);
      await expect(speaksTls('127.0.0.1', s.port, c.signal, 60_000)).rejects.toThrow(/interrupted/);
    } finally {
      for (const sock of held) sock.destroy();
      await s.close();
    }
  });
});
