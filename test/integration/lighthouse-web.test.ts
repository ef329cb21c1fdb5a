/**
 * lighthouse.web in a NAT lab, checked in a real browser: a mesh lighthouse with the map, a relay,
 * hosts a and b behind cone NATs and c behind a symmetric NAT (so its tunnels are relayed). The map
 * listens where it does by default, on the lighthouse's overlay IP: headless Chromium runs in b's
 * namespace and loads it through b's tunnel to the lighthouse. MAP_SCREENSHOT=path saves a screenshot.
 * Containers need the Docker shim, so the container panel is checked on an in-memory mesh whose
 * host publishes names, with Chromium on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNatLab, type NatLab } from '../../src/lab/nat.js';
import { launchBrowserIn } from '../helpers/browser.js';
import type { MeshView } from '../../lighthouse/web.js';
import { MemoryNetwork } from '../../src/io/memory.js';
import { mapCluster } from '../helpers/map-cluster.js';

const WEB_PORT = 8088;

/** The map's address: the lighthouse's overlay IP (the default listen). */
const mapUrl = (lab: NatLab) => `http://${lab.host('lh').vpnIp}:${WEB_PORT}`;

/** GET /api/mesh from b, over the overlay. */
async function meshOverHttp(lab: NatLab): Promise<MeshView> {
  const res = await lab.lab.exec(lab.host('b').ns, 'curl', ['-sf', '--max-time', '5', `${mapUrl(lab)}/api/mesh`]);
  assert.equal(res.code, 0, `GET /api/mesh: ${res.stderr}`);
  return JSON.parse(res.stdout) as MeshView;
}

test('lighthouse.web: the live map of a NAT lab in Chromium (hosts, direct and relayed tunnels, details, a host leaving)', { timeout: 150_000 }, async (t) => {
  await withNatLab(t, { net: 71 }, async (lab) => {
    const lh = await lab.addNode('lh', { impl: 'mesh', role: 'lighthouse', extra: { stun: { alternate_port: 4243 } } });
    // Merged over the lab's lighthouse section, which configFor builds from the nodes added so far.
    lh.extra = { ...lh.extra, lighthouse: { ...(lab.configFor(lh).lighthouse as object), web: { enabled: true, port: WEB_PORT } } };
    await lab.addNode('relay', { impl: 'mesh', role: 'relay' });
    await lab.addRouter('ra', 'cone');
    await lab.addRouter('rb', 'cone');
    await lab.addRouter('rc', 'symmetric');
    await lab.addNode('a', { impl: 'mesh', behind: 'ra' });
    await lab.addNode('b', { impl: 'mesh', behind: 'rb' });
    await lab.addNode('c', { impl: 'mesh', behind: 'rc' });
    await lab.startAll('lh', 'relay', 'a', 'b', 'c');
    await lab.waitForLog('c', /mapping endpoint-dependent \(symmetric\)/, 15_000);
    await lab.waitForPing('a', 'b', 20_000);
    await lab.waitForPing('a', 'c', 30_000);
    const ip = (name: string) => lab.host(name).vpnIp;
    const pair = (x: string, y: string) => [ip(x), ip(y)].sort().join(' ');

    // The JSON API: every host, a-b direct, a-c relayed through the relay, once the reports arrive.
    let view: MeshView | null = null;
    const deadline = Date.now() + 30_000;
    for (;;) {
      view = await meshOverHttp(lab);
      const ac = view.edges.find((e) => [e.from, e.to].sort().join(' ') === pair('a', 'c'));
      const ab = view.edges.find((e) => [e.from, e.to].sort().join(' ') === pair('a', 'b'));
      if (view.hosts.length === 5 && ac?.kind === 'relayed' && ab?.kind === 'direct' && ab.rttMs !== null) break;
      if (Date.now() > deadline) assert.fail(`the map never showed the lab: ${JSON.stringify(view)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const byName = new Map(view.hosts.map((h) => [h.name, h]));
    assert.deepEqual([...byName.keys()].sort(), ['a', 'b', 'c', 'lh', 'relay']);
    assert.equal(byName.get('lh')!.lighthouse, true);
    assert.equal(byName.get('relay')!.relay, true);
    assert.equal(byName.get('c')!.nat, 'endpoint-dependent');
    assert.equal(view.edges.find((e) => [e.from, e.to].sort().join(' ') === pair('a', 'c'))!.via, ip('relay'));
    assert.ok(byName.get('a')!.learned[0]?.startsWith(lab.publicIp('a')), `a learned at its router: ${byName.get('a')!.learned}`);
    assert.doesNotMatch(JSON.stringify(view), /PRIVATE KEY|BEGIN NEBULA/, 'no key or certificate material');
    const post = await lab.lab.exec(lab.host('b').ns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `${mapUrl(lab)}/api/mesh`]);
    assert.equal(post.stdout, '405', 'read-only');
    const underlay = await lab.lab.exec(lab.host('b').ns, 'curl', ['-s', '--max-time', '3', `http://${lh.underlayIp}:${WEB_PORT}/api/mesh`]);
    assert.notEqual(underlay.code, 0, 'not served on the underlay address');

    // The page in Chromium.
    const { browser, close } = await launchBrowserIn(lab.host('b').ns);
    // Closed before the lab removes the namespace the browser runs in.
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(String(err)));
      page.on('requestfailed', (req) => errors.push(`${req.url()} ${req.failure()?.errorText}`));
      await page.goto(`${mapUrl(lab)}/`, { waitUntil: 'load', timeout: 30_000 });
      const graph = () =>
        page.evaluate(() => {
          const cy = (window as unknown as { cy?: unknown }).cy as { nodes(): { map<T>(f: (n: { id(): string }) => T): T[] }; edges(): { map<T>(f: (e: { data(k: string): string }) => T): T[] } } | undefined;
          if (!cy) return null;
          return { nodes: cy.nodes().map((n) => n.id()), edges: cy.edges().map((e) => ({ source: e.data('source'), target: e.data('target'), kind: e.data('kind') })) };
        });
      const drawnPair = (e: { source: string; target: string }) => [e.source, e.target].sort().join(' ');
      await page.waitForFunction((n) => document.querySelectorAll('#hosts-table tbody tr').length === n, { timeout: 20_000 }, 5);
      const drawn = (await graph())!;
      assert.ok(drawn, 'the graph is drawn');
      assert.deepEqual(drawn.nodes.sort(), ['lh', 'relay', 'a', 'b', 'c'].map(ip).sort());
      assert.equal(drawn.edges.find((e) => drawnPair(e) === pair('a', 'b'))?.kind, 'direct');
      assert.equal(drawn.edges.find((e) => drawnPair(e) === pair('a', 'c'))?.kind, 'relayed');
      for (const host of ['a', 'b', 'c', 'relay']) assert.ok(drawn.edges.some((e) => drawnPair(e) === pair('lh', host)), `lh-${host} drawn`);

      // Clicking a host opens its details.
      const box = await page.evaluate((id) => {
        const cy = (window as unknown as { cy: { getElementById(id: string): { renderedPosition(): { x: number; y: number } } } }).cy;
        const p = cy.getElementById(id).renderedPosition();
        const r = document.getElementById('graph')!.getBoundingClientRect();
        return { x: r.left + p.x, y: r.top + p.y };
      }, ip('c'));
      await page.mouse.click(box.x, box.y);
      await page.waitForFunction((id) => document.getElementById('details')!.dataset.host === id, { timeout: 5000 }, ip('c'));
      const details = await page.$eval('#details', (el) => el.textContent ?? '');
      assert.match(details, /endpoint-dependent/);
      assert.match(details, /containers \(0\)/);
      assert.match(details, new RegExp(`a: via ${ip('relay').replaceAll('.', '\\.')}`));
      if (process.env.MAP_SCREENSHOT) await page.screenshot({ path: process.env.MAP_SCREENSHOT });

      // c leaves: gone from the page within seconds, without a reload.
      const updatedBefore = await page.evaluate(() => document.body.dataset.updated);
      await lab.stop('c');
      await page.waitForFunction((id) => !(window as unknown as { cy: { getElementById(id: string): { nonempty(): boolean } } }).cy.getElementById(id).nonempty(), { timeout: 10_000 }, ip('c'));
      assert.notEqual(await page.evaluate(() => document.body.dataset.updated), updatedBefore);
      assert.equal(await page.$$eval('#hosts-table tbody tr', (rows) => rows.length), 4);
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  });
});

test('lighthouse.web: clicking a host in Chromium shows its containers; the search box and the table view', { timeout: 90_000 }, async (t) => {
  const { lighthouse, a, b, base } = await mapCluster(new MemoryNetwork());
  t.after(async () => {
    for (const n of [a, b, lighthouse]) await n.stop();
  });
  const { browser, close } = await launchBrowserIn(null);
  t.after(close);
  const page = await browser.newPage();
  await page.goto(`${base}/`, { waitUntil: 'load', timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll('#hosts-table tbody tr').length === 3, { timeout: 20_000 });
  const at = await page.evaluate((id) => {
    const cy = (window as unknown as { cy: { getElementById(id: string): { renderedPosition(): { x: number; y: number } } } }).cy;
    const p = cy.getElementById(id).renderedPosition();
    const r = document.getElementById('graph')!.getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, '10.42.0.2');
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction(() => document.getElementById('details')!.dataset.host === '10.42.0.2', { timeout: 5000 });
  assert.deepEqual(await page.$$eval('#containers li', (items) => items.map((li) => li.textContent)), ['shop 10.200.2.7']);
  assert.match(await page.$eval('#details', (el) => el.textContent ?? ''), /groups\s*web/);

  // Search: by container name; the others are dimmed in the graph.
  await page.type('#search', 'shop');
  const dimmed = await page.evaluate(() => (window as unknown as { cy: { nodes(): { filter(f: (n: { hasClass(c: string): boolean }) => boolean): { map<T>(f: (n: { id(): string }) => T): T[] } } } }).cy.nodes().filter((n) => n.hasClass('dim')).map((n) => n.id()).sort());
  assert.deepEqual(dimmed, ['10.42.0.1', '10.42.0.100']);

  // The table view lists the same hosts and tunnels.
  await page.click('#toggle-view');
  assert.equal(await page.$eval('#table-view', (el) => (el as HTMLElement).hidden), false);
  const rows = await page.$$eval('#edges-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent).join(' ')));
  assert.ok(rows.includes('a b direct'), rows.join('; '));
});
