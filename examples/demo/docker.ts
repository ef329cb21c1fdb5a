/**
 * Act "docker": two Docker hosts joined by the mesh. The CA host runs a mesh lighthouse and
 * `mesh ca serve`; each Docker host joins with `mesh join TOKEN --docker-bridge cluster` (a token
 * from `mesh ca token create --subnet auto`), then runs its own dockerd and
 * `mesh node --docker-bridge cluster` from the config it received. A container `web`
 * on host B serves HTTP; a container on host A fetches http://web.cluster/ by name and pings it by IP,
 * and web's log shows the client container's own address (no NAT in between). See
 * src/lab/docker.ts.
 *
 * Where dockerd cannot run, the same picture with namespaces as containers: on each host a bridge
 * with the gateway of the host's container subnet and one "container" namespace behind it; each
 * mesh node routes the other host's container subnet through the overlay with tun.unsafe_routes
 * (the certificates carry the subnets). Ping and HTTP go between the two namespace containers.
 */
import { DockerLab, dockerSkipReason, NETWORK, type DockerHost } from '../../src/lab/docker.js';
import { labSkipReason } from '../../src/lab/lab.js';
import { eventually, sleep } from '../../src/lab/wait.js';
import { check, runAct, type ActResult, type DemoIO } from './io.js';

/** The address each container gets: .10 in its host's container subnet. */
function containerIp(host: DockerHost): string {
  return host.gateway!.replace(/\.1$/, '.10');
}

function show(io: DemoIO, prompt: string, output: string): void {
  for (const line of output.trim().split('\n')) if (line.trim()) io.say(`${prompt}$ ${line}`);
}

export async function dockerAct(io: DemoIO, namePrefix: string, options: { withoutDockerd: boolean }): Promise<ActResult> {
  const overlay = await labSkipReason();
  if (overlay) return { ran: false, reason: overlay };
  const noDocker = options.withoutDockerd ? '--without-dockerd was given' : await dockerSkipReason();
  if (noDocker) {
    io.say(`Docker cannot run here (${noDocker}): namespaces act as the containers instead.`);
    return namespaceContainers(io, namePrefix);
  }
  return dockerContainers(io, namePrefix);
}

/** The lab's hosts: a lighthouse (no TUN) and two container hosts that join with `mesh join`. */
async function addHosts(io: DemoIO, lab: DockerLab, dockerBridge: boolean): Promise<{ lh: DockerHost; ha: DockerHost; hb: DockerHost }> {
  const lh = await lab.addHost('lh', { kind: 'lighthouse' });
  const ha = await lab.addHost('ha', { kind: 'docker', dockerBridge });
  const hb = await lab.addHost('hb', { kind: 'docker', dockerBridge });
  io.say(`CA made with \`mesh ca init --ips 10.42.0.0/16 --subnets 10.200.0.0/16\`; lighthouse signed with \`mesh ca sign\``);
  io.say(`\`mesh ca serve\` runs beside the lighthouse; each host joined with \`mesh ca token create --subnet auto\` there and \`mesh join TOKEN --docker-bridge ${NETWORK}\` on the host`);
  io.say(`lighthouse lh: overlay ${lh.vpnIp}, underlay ${lh.underlayIp}`);
  for (const h of [ha, hb]) io.say(`host ${h.name}: overlay ${h.vpnIp}, underlay ${h.underlayIp}, container subnet ${h.subnet} (gateway ${h.gateway})`);
  return { lh, ha, hb };
}

async function dockerContainers(io: DemoIO, namePrefix: string): Promise<ActResult> {
  const { say, step } = io;
  const lab = DockerLab.create({ namePrefix, enroll: true });
  const cleanupStep = '8. Clean up: remove the containers, stop the dockerds, delete their directories and the namespaces';
  return runAct(io, lab, { explain: () => `Docker lab logs:\n${lab.allLogTails(20)}`, cleanupStep }, async () => {
    step('1. Underlay and CA; a lighthouse, and two Docker hosts that join with `mesh join`, each in its own namespace');
    const { lh, ha, hb } = await addHosts(io, lab, true);

    step('2. Start the mesh lighthouse and a private dockerd in each host namespace');
    await lab.start('lh');
    await Promise.all(['ha', 'hb'].map((h) => lab.startDockerd(h)));
    say(`image ${'local/busybox'} imported into each dockerd from Debian's busybox-static (no registry)`);
    for (const h of [ha, hb]) say(`${h.name}: dockerd pid ${h.dockerd!.proc.pid}, socket ${h.dockerd!.socket}`);

    step(`3. Start \`mesh node --docker-bridge ${NETWORK}\` on each Docker host`);
    for (const h of [ha, hb]) {
      await lab.start(h.name);
      say(`${h.name}: Docker network "${NETWORK}" on ${h.subnet}; other hosts' container subnets are routed into the mesh; names *.${NETWORK} answered at ${h.gateway}`);
    }
    say(`both registered with the lighthouse ${lh.vpnIp}, which tells each where the other is on first contact`);

    step('4. Containers: "web" on hb serves HTTP, "client" on ha');
    const webIp = containerIp(hb);
    const clientIp = containerIp(ha);
    await lab.runContainer('hb', 'web', webIp, lab.httpdCommand(80, 'hello-from-web-on-hb'));
    await lab.runContainer('ha', 'client', clientIp, ['sleep', '3600']);
    say(`web on hb at ${webIp} (busybox httpd), client on ha at ${clientIp}`);

    step(`5. From the client container: ping web by IP, fetch http://web.${NETWORK}/ by name`);
    const ping = await eventually(`ping client -> ${webIp}`, () => lab.exec('ha', 'client', ['ping', '-c', '3', '-W', '2', webIp]), 30_000);
    show(io, 'client', ping.stdout);
    const lookup = await eventually(`nslookup web.${NETWORK}`, () => lab.exec('ha', 'client', ['nslookup', `web.${NETWORK}`]));
    say(`client$ nslookup web.${NETWORK}   (Docker's resolver 127.0.0.11 asks the mesh node at ${ha.gateway})`);
    show(io, 'client', lookup.stdout);
    const since = (Date.now() / 1000).toFixed(3);
    // busybox-static's `wget -T` crashes (1.35): bound it with `timeout` instead.
    const page = await eventually(`wget http://web.${NETWORK}/`, () => lab.exec('ha', 'client', ['timeout', '4', 'wget', '-q', '-O', '-', `http://web.${NETWORK}/`]));
    say(`client$ wget -q -O - http://web.${NETWORK}/`);
    show(io, 'client', page.stdout);
    check(page.stdout.trim() === 'hello-from-web-on-hb', `unexpected page: ${page.stdout}`);

    step("6. What the server saw: web's request log");
    const logs = await lab.docker('hb', ['logs', '--since', since, 'web']);
    const requests = (logs.stdout + logs.stderr).split('\n').filter((l) => /url:/.test(l));
    for (const line of requests) say(`web log: ${line.trim()}`);
    const seen = new Set([...requests.join('\n').matchAll(/^\[?(?:::ffff:)?([\d.]+)\]?:\d+: url:/gm)].map((m) => m[1]!));
    check(seen.size === 1 && seen.has(clientIp), `web saw ${[...seen].join(', ') || 'no request'}, expected the client's own address ${clientIp}`);
    say(`web saw the client container's own address ${clientIp}: no NAT between the containers, the mesh carried the packets`);

    step('7. Stop the mesh nodes (each removes its routes and iptables rules)');
    for (const h of ['ha', 'hb', 'lh']) await lab.stop(h);
  });
}

/** A tiny HTTP server that answers "<text>\n" and logs each client's address (Node, so no busybox is needed). */
const HTTP_SERVER = `
const [port, text] = process.argv.slice(1);
require('node:http').createServer((req, res) => {
  console.log('request from ' + req.socket.remoteAddress.replace(/^::ffff:/, '') + ' for ' + req.url);
  res.end(text + '\\n');
}).listen(Number(port), () => console.log('listening'));
`;
const HTTP_GET = `fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then(async (r) => process.stdout.write(await r.text()), () => process.exit(1));`;

async function namespaceContainers(io: DemoIO, namePrefix: string): Promise<ActResult> {
  const { say, step } = io;
  const lab = DockerLab.create({ namePrefix, enroll: true });
  const cleanupStep = '8. Clean up: stop our processes, delete the namespaces (with bridges, veths and TUN devices)';
  return runAct(io, lab, { explain: () => `Node logs:\n${lab.allLogTails(20)}`, cleanupStep }, async () => {
    step('1. Underlay and CA; a lighthouse, and two hosts that join with `mesh join` and get container subnets');
    const { ha, hb } = await addHosts(io, lab, false);
    ha.unsafeRoutes.push({ route: hb.subnet!, via: hb.vpnIp });
    hb.unsafeRoutes.push({ route: ha.subnet!, via: ha.vpnIp });
    say(`tun.unsafe_routes: ha sends ${hb.subnet} via ${hb.vpnIp}, hb sends ${ha.subnet} via ${ha.vpnIp}`);

    step('2. A "container" on each host: a namespace behind a bridge that holds the subnet gateway');
    const containers = new Map<string, { ns: string; ip: string }>();
    for (const h of [ha, hb]) {
      const ns = await lab.lab.namespace(`c${h.name}`);
      const bridge = await lab.lab.bridge(h.ns);
      await lab.lab.address(h.ns, bridge, `${h.gateway}/24`);
      const link = await lab.lab.veth(ns, h.ns);
      await lab.lab.attach(h.ns, bridge, link.b);
      const ip = containerIp(h);
      await lab.lab.address(ns, link.a, `${ip}/24`);
      await lab.lab.ip(ns, 'route', 'add', 'default', 'via', h.gateway!);
      await lab.lab.sysctl(h.ns, 'net.ipv4.ip_forward', 1);
      containers.set(h.name, { ns, ip });
      say(`${h.name}: bridge ${bridge} with ${h.gateway}/24, container namespace ${ns} at ${ip}`);
    }
    const client = containers.get('ha')!;
    const web = containers.get('hb')!;

    step('3. Start the mesh lighthouse and a mesh node on each host');
    for (const h of ['lh', 'ha', 'hb']) await lab.start(h);
    say(`each node routes the other host's container subnet into its TUN device`);

    step('4. "web" in hb\'s container serves HTTP on port 80');
    const server = lab.lab.spawn(web.ns, process.execPath, ['-e', HTTP_SERVER, '80', 'hello-from-web-on-hb']);
    let serverLog = '';
    server.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
    for (let i = 0; !serverLog.includes('listening'); i++) {
      check(i < 100 && server.exitCode === null, `the HTTP server did not start: ${serverLog}`);
      await sleep(50);
    }
    say(`listening on ${web.ip}:80`);

    step("5. From ha's container: ping web by IP, fetch http://" + web.ip + '/');
    const ping = await eventually(`ping ${web.ip}`, () => lab.lab.exec(client.ns, 'ping', ['-n', '-c', '3', '-W', '2', web.ip]), 30_000);
    show(io, 'client', ping.stdout);
    const page = await eventually(`GET http://${web.ip}/`, () => lab.lab.exec(client.ns, process.execPath, ['-e', HTTP_GET, `http://${web.ip}/`]));
    say(`client$ GET http://${web.ip}/`);
    show(io, 'client', page.stdout);
    check(page.stdout.trim() === 'hello-from-web-on-hb', `unexpected page: ${page.stdout}`);

    step('6. What the server saw');
    const requests = serverLog.split('\n').filter((l) => l.startsWith('request from'));
    for (const line of requests) say(`web log: ${line}`);
    check(requests.length > 0 && requests.every((l) => l.startsWith(`request from ${client.ip} `)), `web did not see the client's own address ${client.ip}`);
    say(`web saw the client container's own address ${client.ip}: the mesh carried it unchanged between the subnets`);

    step('7. Stop the mesh nodes');
    for (const h of ['ha', 'hb', 'lh']) await lab.stop(h);
  });
}
