// Retry classification, Retry-After parsing, backoff bounds, network reasons, the TLS-or-not probe decision, and
// redaction.
import { describe, expect, it, vi } from 'vitest';
import { redactText, redactUrl } from '../../src/registry-client/errors.js';
import { Hosts, connectError } from '../../src/registry-client/hosts.js';
import { backoffMs, isRetryableError, networkReason, parseRetryAfter } from '../../src/registry-client/retry.js';

const coded = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-06-01T12:00:00Z');
  it.each([
    ['1', 1000],
    [' 30 ', 30_000],
    ['0', 0],
    ['Sat, 01 Jun 2024 12:00:05 GMT', 5000],
    ['Sat, 01 Jun 2024 11:59:00 GMT', 0],
  ])('%j → %d ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
  it.each([[undefined], [''], ['soon'], ['-5'], ['1.5']])('%j → undefined', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('backoffMs', () => {
  it('grows exponentially with jitter between half and all of the ceiling, capped', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(8000, 250 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = backoffMs(attempt);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});

describe('backoffMs is equal jitter (as its comment says): the wait is in [ceiling/2, ceiling], never 0', () => {
  it.each([
    [0, 0, 125],
    [0, 1, 250],
    [3, 0, 1000],
    [3, 1, 2000],
    [10, 0, 4000],
    [10, 1, 8000],
  ])('attempt %d with Math.random()=%d waits %d ms', (attempt, r, ms) => {
    const spy = vi.spyOn(Math, 'random').mockReturnValue(r);
    try {
      expect(backoffMs(attempt)).toBe(ms);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('isRetryableError', () => {
  it.each([
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    'UND_ERR_SOCKET',
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
    'UND_ERR_CONNECT_TIMEOUT',
    'ERR_STREAM_PREMATURE_CLOSE',
  ])('%s is retried', (code) => expect(isRetryableError(coded(code))).toBe(true));
  it('looks through the cause chain', () => {
    expect(isRetryableError(new Error('fetch failed', { cause: coded('ECONNRESET') }))).toBe(true);
  });
  it.each([
    ['an abort', Object.assign(new Error('aborted'), { name: 'AbortError' })],
    ['a certificate error', coded('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')],
    ['a DNS failure', coded('ENOTFOUND')],
  ])('%s is not retried', (_, err) => expect(isRetryableError(err)).toBe(false));
});

describe('networkReason', () => {
  it.each([
    ['UND_ERR_HEADERS_TIMEOUT', 5000, 'no answer within 5 s (--timeout)'],
    ['UND_ERR_BODY_TIMEOUT', 1500, 'the answer stalled: no data within 1.5 s (--timeout)'],
    ['UND_ERR_CONNECT_TIMEOUT', 2000, 'could not connect within 2 s (--timeout)'],
    ['ECONNREFUSED', undefined, 'connection refused'],
    ['UND_ERR_SOCKET', undefined, 'the connection was closed before the answer was complete'],
  ])('%s', (code, ms, text) => expect(networkReason(coded(code), ms)).toBe(text));
});

describe('network errors', () => {
  it('a certificate error says what to do', () => {
    const e = connectError(
      '127.0.0.1:5000',
      coded('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'),
    );
    expect(e.message).toBe(
      '127.0.0.1:5000: the TLS certificate is not trusted (self-signed certificate in certificate chain)',
    );
    expect(e.hint).toMatch(/"ca".*--insecure/);
  });
});

describe('per-host pause (shared backoff)', () => {
  it('holds every request to that host until the pause ends, and no other host', async () => {
    const hosts = new Hosts({ config: { hosts: {} }, plainHttp: true, insecure: false, connections: 2 });
    const signal = new AbortController().signal;
    vi.useFakeTimers();
    try {
      hosts.pauseUntil('a.example', Date.now() + 300);
      hosts.pauseUntil('a.example', Date.now() + 100); // an earlier end never shortens a pause
      let other = false;
      void hosts.waitForTurn('b.example', signal).then(() => (other = true));
      await vi.advanceTimersByTimeAsync(0);
      expect(other).toBe(true);
      let released = 0;
      for (let i = 0; i < 2; i++) void hosts.waitForTurn('a.example', signal).then(() => released++);
      await vi.advanceTimersByTimeAsync(299);
      expect(released).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(released).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an abort ends the wait', async () => {
    const hosts = new Hosts({ config: { hosts: {} }, plainHttp: true, insecure: false, connections: 2 });
    hosts.pauseUntil('a.example', Date.now() + 60_000);
    const c = new AbortController();
    setTimeout(() => c.abort(Object.assign(new Error('interrupted'), { name: 'AbortError' })), 20);
    await expect(hosts.waitForTurn('a.example', c.signal)).rejects.toThrow(/interrupted/);
  });
});

describe('redaction', () => {
  it.each([
    ['authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl', 'authorization: Bearer ***'],
    ['Authorization: Basic YWxpY2U6czNjcmV0', 'Authorization: Basic ***'],
    ['token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln in a message', 'token *** in a message'],
    ['GET http://bob:hunter2@127.0.0.1:5000/v2/', 'GET http://***:***@127.0.0.1:5000/v2/'],
    [
      'https://s3/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=abc123&X-Amz-Security-Token=tok&X-Amz-Date=1',
      'https://s3/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***&X-Amz-Date=1',
    ],
    [
      'https://cdn/b?sig=abc&se=2024&Signature=x&Key-Pair-Id=K',
      'https://cdn/b?sig=***&se=2024&Signature=***&Key-Pair-Id=***',
    ],
    [
      '{"username":"u","password":"p4ss","identitytoken":"t0k"}',
      '{"username":"u","password":"***","identitytoken":"***"}',
    ],
  ])('%s', (input, output) => expect(redactText(input)).toBe(output));

  it.each([
    'a Bearer challenge without a realm',
    'Basic realm="registry"',
    'manifest sha256:0123abcd is fine',
    'retry in 5 s',
  ])('leaves %j alone', (text) => {
    expect(redactText(text)).toBe(text);
  });

  it('redactUrl masks userinfo and signed parameters, keeps the rest', () => {
    expect(redactUrl('https://u:p@h/v2/x?X-Amz-Signature=abc&n=10')).toBe(
      'https://***:***@h/v2/x?X-Amz-Signature=***&n=10',
    );
  });
});
