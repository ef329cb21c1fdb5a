/**
 * TCP checksum tool for overlay tests, run inside a namespace with `ip netns exec NS node tcp-tool.js`.
 *
 *   serve HOST PORT[,PORT...]          accept connections on each port; per connection, hash everything
 *                                      received until the peer half-closes, then answer with one JSON
 *                                      line {bytes, sha256} and close. Prints {"ready":[ports]} first.
 *   send HOST PORT BYTES [TIMEOUT_MS]  connect (giving up after TIMEOUT_MS, default 5000), send BYTES of
 *                                      pseudo-random data, half-close, read the server's JSON line and
 *                                      print {connected, sent, sentSha256, received, receivedSha256, ms,
 *                                      mbitPerSec} or {connected:false, error}. Exits 0 either way; the
 *                                      caller compares the checksums.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';

function serve(host: string, ports: number[]): void {
  let ready = 0;
  for (const port of ports) {
    const server = createServer((sock) => {
      const hash = createHash('sha256');
      let bytes = 0;
      sock.on('data', (d: Buffer) => {
        bytes += d.length;
        hash.update(d);
      });
      sock.on('end', () => {
        sock.end(`${JSON.stringify({ bytes, sha256: hash.digest('hex'), port })}\n`);
      });
      sock.on('error', () => sock.destroy());
    });
    server.listen(port, host, () => {
      if (++ready === ports.length) process.stdout.write(`${JSON.stringify({ ready: ports })}\n`);
    });
  }
  process.on('SIGTERM', () => process.exit(0));
}

function send(host: string, port: number, total: number, timeoutMs: number): void {
  const started = Date.now();
  const sock: Socket = connect({ host, port });
  const timer = setTimeout(() => {
    sock.destroy();
    done({ connected: false, error: 'timeout' });
  }, timeoutMs);
  let finished = false;
  function done(result: Record<string, unknown>): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  }
  sock.on('error', (err) => done({ connected: false, error: err.message }));
  sock.on('connect', () => {
    clearTimeout(timer);
    const hash = createHash('sha256');
    const chunk = 256 * 1024;
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(chunk, total - sent);
        const data = randomBytes(n);
        hash.update(data);
        sent += n;
        if (!sock.write(data)) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end();
    };
    pump();
    let reply = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (reply += d));
    sock.on('end', () => {
      const ms = Date.now() - started;
      try {
        const r = JSON.parse(reply.trim()) as { bytes: number; sha256: string };
        done({ connected: true, sent, sentSha256: hash.digest('hex'), received: r.bytes, receivedSha256: r.sha256, ms, mbitPerSec: Math.round((sent * 8) / 1000 / ms) });
      } catch {
        done({ connected: true, sent, error: `bad reply: ${JSON.stringify(reply.slice(0, 200))}` });
      }
    });
  });
}

const [mode, host, portArg, bytesArg, timeoutArg] = process.argv.slice(2);
if (mode === 'serve' && host && portArg) {
  serve(host, portArg.split(',').map(Number));
} else if (mode === 'send' && host && portArg && bytesArg) {
  send(host, Number(portArg), Number(bytesArg), Number(timeoutArg ?? 5000));
} else if (mode === undefined && process.env.NODE_TEST_CONTEXT) {
  // `node --test dist/test/` also runs every file under test/ (helpers included): nothing to do.
} else {
  process.stderr.write('usage: tcp-tool serve HOST PORT[,PORT...] | send HOST PORT BYTES [TIMEOUT_MS]\n');
  process.exit(2);
}
