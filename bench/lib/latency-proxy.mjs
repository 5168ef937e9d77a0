// A TCP proxy on 127.0.0.1 that delays every chunk by half a round trip each way: a loopback registry that answers
// like a remote one (each HTTP request costs one RTT), for both tools alike. Bandwidth is not limited.
import net from 'node:net';

/** Starts a proxy to `target` ({ host: '127.0.0.1:PORT' }); returns { host, stop() }. */
export async function startLatencyProxy(target, rttMs) {
  const [upHost, upPort] = target.host.split(':');
  const oneWay = rttMs / 2;
  const sockets = new Set();
  const relay = (from, to) => {
    from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), oneWay));
    from.on('end', () => setTimeout(() => to.destroyed || to.end(), oneWay));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(upPort), upHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.unref(); // never what keeps the benchmark alive
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return {
    host: `127.0.0.1:${server.address().port}`,
    rttMs,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
