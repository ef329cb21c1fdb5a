/**
 * Child script for the UDP GSO fallback test (run inside a namespace):
 *   udp-gso-probe.js HOST COUNT SIZE
 * Sends COUNT equal datagrams of SIZE bytes from one native socket to another on HOST, twice, and
 * prints a JSON summary: offloads before and after, datagrams accepted and received intact, and the
 * fallback reports.
 */
import { bindUdp, type NativeUdpBind } from '../../src/io/udp.js';

const [host, countText, sizeText] = process.argv.slice(2) as [string, string, string];
const count = Number(countText);
const size = Number(sizeText);

const fallbacks: string[] = [];
const sender = (await bindUdp({ host, port: 0, impl: 'native', onOffloadFallback: (reason) => fallbacks.push(reason) })) as NativeUdpBind;
const receiver = (await bindUdp({ host, port: 0, impl: 'native', readBuffer: 4 << 20 })) as NativeUdpBind;
const offloadsBefore = [...sender.offloads];
let received = 0;
let intact = 0;
const finish = (): void => {
  clearTimeout(timer);
  const { txGsoBatches, txDatagrams, txErrors } = sender.stats();
  console.log(JSON.stringify({ offloadsBefore, offloadsAfter: sender.offloads, accepted, received, intact, fallbacks, txGsoBatches, txDatagrams, txErrors }));
  void sender.close();
  void receiver.close();
};
const timer = setTimeout(finish, 5000);
receiver.onDatagrams((batch) => {
  for (const d of batch) {
    received++;
    if (d.data.length === size && d.data.every((b) => b === 0x5a)) intact++;
  }
  if (received >= 2 * count) finish();
});
const datagrams = Array.from({ length: count }, () => ({ data: Buffer.alloc(size, 0x5a), to: { address: host, port: receiver.localPort } }));
const accepted = [sender.send(datagrams), sender.send(datagrams)];
