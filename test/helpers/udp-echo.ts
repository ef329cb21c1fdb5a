/**
 * Child script for UDP integration tests (run inside a namespace):
 *   udp-echo.js server HOST PORT         echoes every datagram back; prints {"ready":port}
 *   udp-echo.js client HOST PORT COUNT   sends COUNT datagrams in one batch, prints a JSON summary
 * Uses bindUdp (native when built; MESH_UDP_IMPL=dgram forces the fallback).
 */
import { bindUdp } from '../../src/io/udp.js';

const [mode, host, portText, countText] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'server') {
  const bind = await bindUdp({ host: host!, port, readBuffer: 4 << 20, writeBuffer: 4 << 20 });
  bind.onDatagrams((batch) => {
    bind.send(batch.map((d) => ({ data: d.data, to: d.from })));
  });
  process.on('SIGTERM', () => void bind.close().then(() => process.exit(0)));
  console.log(JSON.stringify({ ready: bind.localPort, kind: (bind as { kind?: string }).kind }));
} else if (mode === 'client') {
  const count = Number(countText);
  const bind = await bindUdp({ host: '0.0.0.0', port: 0, readBuffer: 4 << 20 });
  const replies: { from: string; len: number; seq: number }[] = [];
  const batchSizes: number[] = [];
  const timer = setTimeout(() => finish(), 3000);
  const finish = (): void => {
    clearTimeout(timer);
    console.log(JSON.stringify({ kind: (bind as { kind?: string }).kind, replies, batchSizes }));
    void bind.close();
  };
  bind.onDatagrams((batch) => {
    batchSizes.push(batch.length);
    for (const d of batch) replies.push({ from: `${d.from.address}:${d.from.port}`, len: d.data.length, seq: d.data.readUInt32BE(0) });
    if (replies.length >= count) finish();
  });
  bind.send(
    Array.from({ length: count }, (_, i) => {
      const data = Buffer.alloc(1200, i & 255);
      data.writeUInt32BE(i, 0);
      return { data, to: { address: host!, port } };
    }),
  );
} else {
  console.error('usage: udp-echo.js server|client HOST PORT [COUNT]');
  process.exit(2);
}
