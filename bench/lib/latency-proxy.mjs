// A TCP proxy on 127.0.0.1 that delays every chunk by half a round trip each way: a loopback registry that answers
// like a remote one (each HTTP request costs one RTT), for both tools alike. Bandwidth is not limited. It also counts
// what a client pays in latency: round trips (a client's turn to speak on a connection after the server spoke, or
// its first bytes: one per HTTP/1.1 request, one more for a body sent after `100 Continue`) and connections. A new
// connection costs no extra delay here, though on a real network its TCP (and TLS) handshake costs 1 (2–3) RTT more.
import net from 'node:net';

/** Starts a proxy to `target` ({ host: '127.0.0.1:PORT' }); rttMs 0 only counts. Returns { host, counts, reset, stop }. */
export async function startLatencyProxy(target, rttMs) {
  const [upHost, upPort] = target.host.split(':');
  const oneWay = rttMs / 2;
  const sockets = new Set();
  let counts = { roundTrips: 0, connections: 0 };
  const relay = (from, to, onData) => {
    from.on('data', (chunk) => {
      onData();
      if (oneWay) setTimeout(() => to.destroyed || to.write(chunk), oneWay);
      else to.destroyed || to.write(chunk);
    });
    from.on('end', () => (oneWay ? setTimeout(() => to.destroyed || to.end(), oneWay) : to.destroyed || to.end()));
  };
  const server = net.createServer((client) => {
    counts.connections++;
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
    let clientSpoke = false; // the client's turn is under way (cleared when the server answers)
    relay(client, upstream, () => {
      if (!clientSpoke) counts.roundTrips++;
      clientSpoke = true;
    });
    relay(upstream, client, () => {
      clientSpoke = false;
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return {
    host: `127.0.0.1:${server.address().port}`,
    rttMs,
    /** Round trips and connections since the last reset. */
    counts: () => ({ ...counts }),
    reset() {
      counts = { roundTrips: 0, connections: 0 };
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
