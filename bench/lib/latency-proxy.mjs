// A TCP proxy on 127.0.0.1 that delays every chunk by half a round trip each way: a loopback registry that answers
// like a remote one (each HTTP request costs one RTT), for both tools alike. Bandwidth is not limited. It also counts
// what a client pays in latency: round trips (a client's turn to speak on a connection after the server spoke, or
// its first bytes: one per HTTP/1.1 request, one more for a body sent after `100 Continue`) and connections. By
// default a new connection costs no extra delay; with { connectRtt: true } a client's first bytes wait one more RTT,
// as TCP's handshake makes them wait on a real network (TLS would add 1–2 more).
import net from 'node:net';

/**
 * A relay from one socket to another delaying each chunk (and the end) until `at(now)`; deliveries stay in order.
 * `onData` is told of each chunk as it arrives.
 */
function relay(from, to, at, onData) {
  const queue = [];
  let timer = null;
  const pump = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0].at <= now) {
      const { chunk } = queue.shift();
      if (to.destroyed) continue;
      if (chunk) to.write(chunk);
      else to.end();
    }
    if (queue.length) timer = setTimeout(pump, queue[0].at - now);
  };
  let last = 0;
  const push = (chunk) => {
    last = Math.max(last, at(performance.now()));
    queue.push({ at: last, chunk });
    timer ??= setTimeout(pump, Math.max(0, queue[0].at - performance.now()));
  };
  from.on('data', (chunk) => {
    onData(chunk);
    push(chunk);
  });
  from.on('end', () => push(null));
}

/**
 * What a client's turn was, for the breakdown in results.json: `HEAD blobs`, `PUT uploads`, `not HTTP` (a TLS probe,
 * or a body sent after `100 Continue`).
 */
function requestKind(chunk) {
  const m = /^([A-Z]+) \/v2\/(\S*) HTTP\/1\.[01]\r\n/.exec(chunk.subarray(0, 2048).toString('latin1'));
  if (!m) return /^[A-Z]+ \S+ HTTP\//.test(chunk.subarray(0, 64).toString('latin1')) ? 'other' : 'not HTTP';
  const p = m[2].split('?')[0];
  if (p === '') return `${m[1]} v2`;
  if (p.includes('/blobs/uploads/')) return `${m[1]} uploads`;
  return `${m[1]} ${/\/(manifests|blobs|tags)\//.exec(`/${p}`)?.[1] ?? 'other'}`;
}

/**
 * Starts a proxy to `target` ({ host: '127.0.0.1:PORT' }); rttMs 0 only counts. Returns { host, counts, reset, stop }.
 */
export async function startLatencyProxy(target, rttMs, { connectRtt = false } = {}) {
  const [upHost, upPort] = target.host.split(':');
  const oneWay = rttMs / 2;
  const sockets = new Set();
  let counts = { roundTrips: 0, connections: 0, requests: {} };
  const server = net.createServer((client) => {
    counts.connections++;
    const open = performance.now() + (connectRtt ? rttMs : 0); // when the client could send after a handshake
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
    const up = (now) => Math.max(now, open) + oneWay;
    relay(client, upstream, up, (chunk) => {
      if (!clientSpoke) {
        counts.roundTrips++;
        const kind = requestKind(chunk);
        counts.requests[kind] = (counts.requests[kind] ?? 0) + 1;
      }
      clientSpoke = true;
    });
    relay(
      upstream,
      client,
      (now) => now + oneWay,
      () => {
        clientSpoke = false;
      },
    );
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return {
    host: `127.0.0.1:${server.address().port}`,
    rttMs,
    connectRtt,
    /** Round trips and connections since the last reset. */
    counts: () => ({ ...counts, requests: { ...counts.requests } }),
    reset() {
      counts = { roundTrips: 0, connections: 0, requests: {} };
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
