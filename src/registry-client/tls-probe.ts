// Does a loopback registry speak TLS? One TCP connection, one ClientHello, and the first byte of the answer.
//
// Docker tries HTTPS on loopback and falls back to plain HTTP when the server does not speak TLS. Asking that with
// Node's TLS stack costs a secure context (and, without NODE_EXTRA_CA_CERTS, the whole root store) before a
// single byte is sent, all to learn one bit. A TLS server answers any ClientHello with a handshake record (0x16) or,
// if it dislikes the offer, an alert (0x15); a plain HTTP server answers `HTTP/1.x 400` or hangs up. Certificates are
// not looked at here: the real connection that follows verifies them as usual.
import { connect } from 'node:net';

/** A TLS 1.2 ClientHello (TLS 1.0 record version, as clients send) offering common ECDHE/AES-GCM suites. */
const CLIENT_HELLO = (() => {
  const suites = [
    0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03,
  ];
  const extensions = [
    // supported_groups: x25519, P-256, P-384. Its type, 0x000a, also puts a LF in the bytes, so a plain HTTP server
    // sees the end of a (malformed) request line and answers 400 at once instead of waiting for one.
    0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
    // ec_point_formats: uncompressed
    0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp384r1_sha384,
    // rsa_pss_rsae_sha384, rsa_pkcs1_sha384
    0x00, 0x0d, 0x00, 0x0e, 0x00, 0x0c, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01,
  ];
  const body = [
    0x03,
    0x03, // client_version TLS 1.2
    ...new Array<number>(32).fill(0x42), // random (nothing is negotiated with it)
    0x00, // session_id
    (suites.length >> 8) & 0xff,
    suites.length & 0xff,
    ...suites,
    0x01,
    0x00, // compression: null
    (extensions.length >> 8) & 0xff,
    extensions.length & 0xff,
    ...extensions,
  ];
  const handshake = [0x01, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff, ...body];
  return Buffer.from([0x16, 0x03, 0x01, (handshake.length >> 8) & 0xff, handshake.length & 0xff, ...handshake]);
})();

/** TLS record types a TLS server starts its answer with: handshake (ServerHello) or alert. */
function isTlsRecord(firstByte: number): boolean {
  return firstByte === 0x16 || firstByte === 0x15;
}

/**
 * Resolves true when the server at host:port answers a ClientHello as a TLS server, false when it answers something
 * else or hangs up (a plain HTTP server). Rejects on a connection error (refused, unreachable), a timeout or an abort,
 * with the error the caller reports.
 */
export function speaksTls(host: string, port: number, signal: AbortSignal, timeoutMs = 30_000): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = connect({ host, port });
    let answered = false;
    const done = (err: Error | undefined, tls?: boolean): void => {
      if (answered) return;
      answered = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(tls === true);
    };
    const onAbort = (): void => done(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () =>
      done(
        Object.assign(new Error(`no answer to a TLS handshake within ${timeoutMs} ms`), {
          code: 'UND_ERR_CONNECT_TIMEOUT',
        }),
      ),
    );
    socket.once('connect', () => socket.write(CLIENT_HELLO));
    socket.once('data', (chunk: Buffer) => done(undefined, isTlsRecord(chunk[0])));
    // Hanging up on a ClientHello is what a plain server may do; so is a reset once the hello arrived.
    socket.once('end', () => done(undefined, false));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (socket.bytesWritten > 0 && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) done(undefined, false);
      else done(err);
    });
  });
}
