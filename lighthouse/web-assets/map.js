// The map page: the whole view arrives with every server-sent event (and from /api/mesh at first),
// and the graph, the table and the open details are redrawn from it. No framework, no build step.
'use strict';

const GROUP_COLOURS = ['#3f7fd6', '#8e5bd6', '#d6833f', '#2aa198', '#c2417a', '#6b8e23', '#b8860b', '#4682b4'];
let mesh = { hosts: [], edges: [] };
let selected = null;
let cy = null;

const $ = (id) => document.getElementById(id);

function colourOf(host) {
  const group = host.groups[0] ?? '';
  let hash = 0;
  for (const c of group) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return group ? GROUP_COLOURS[hash % GROUP_COLOURS.length] : '#7a8190';
}

function rttColour(rttMs) {
  if (rttMs === null) return '#9aa0ac';
  if (rttMs < 20) return '#2e9e44';
  if (rttMs < 100) return '#e0a100';
  return '#d64545';
}

function formatRtt(rttMs) {
  if (rttMs === null) return '—';
  return rttMs < 1 ? `${Math.round(rttMs * 1000)} µs` : `${rttMs.toFixed(1)} ms`;
}

function formatAge(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

function roleOf(host) {
  return [host.lighthouse ? 'lighthouse' : '', host.relay ? 'relay' : ''].filter(Boolean).join(', ') || 'host';
}

function matches(host, query) {
  if (!query) return true;
  const text = [host.name, host.vpnIp, ...host.groups, ...host.subnets, ...host.containers.flatMap((c) => [c.name, ...c.ips])].join(' ').toLowerCase();
  return text.includes(query);
}

function edgeId(e) {
  return `${e.from}-${e.to}`;
}

function drawGraph() {
  const elements = [
    ...mesh.hosts.map((h) => ({
      group: 'nodes',
      data: { id: h.vpnIp, label: `${h.name}\n${h.vpnIp}`, colour: colourOf(h), shape: h.lighthouse ? 'triangle' : h.relay ? 'diamond' : 'ellipse' },
    })),
    ...mesh.edges.map((e) => ({
      group: 'edges',
      data: { id: edgeId(e), source: e.from, target: e.to, kind: e.kind, colour: rttColour(e.rttMs), label: e.kind === 'relayed' ? `via ${e.via} · ${formatRtt(e.rttMs)}` : formatRtt(e.rttMs) },
    })),
  ];
  const ids = new Set(elements.map((el) => el.data.id));
  const before = new Set(cy.elements().map((el) => el.id()));
  cy.batch(() => {
    cy.elements().filter((el) => !ids.has(el.id())).remove();
    for (const el of elements) {
      const existing = cy.getElementById(el.data.id);
      if (existing.nonempty()) existing.data(el.data);
      else cy.add(el);
    }
  });
  const added = elements.some((el) => !before.has(el.data.id));
  // Rings: lighthouses in the middle, relays around them, hosts outside.
  const ring = (node) => (node.data('shape') === 'triangle' ? 3 : node.data('shape') === 'diamond' ? 2 : 1);
  if (added) cy.layout({ name: 'concentric', animate: false, concentric: ring, levelWidth: () => 1, minNodeSpacing: 90, padding: 60 }).run();
  applySearch();
}

function applySearch() {
  const query = $('search').value.trim().toLowerCase();
  cy.nodes().forEach((n) => {
    const host = mesh.hosts.find((h) => h.vpnIp === n.id());
    n.toggleClass('dim', !!host && !matches(host, query));
  });
  for (const row of document.querySelectorAll('#hosts-table tbody tr')) {
    const host = mesh.hosts.find((h) => h.vpnIp === row.dataset.ip);
    row.classList.toggle('dim', !!host && !matches(host, query));
  }
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function drawTables() {
  const hostsBody = document.querySelector('#hosts-table tbody');
  hostsBody.replaceChildren(
    ...mesh.hosts.map((h) => {
      const tr = document.createElement('tr');
      tr.dataset.ip = h.vpnIp;
      tr.append(
        cell(h.name),
        cell(h.vpnIp),
        cell(h.groups.join(', ')),
        cell(roleOf(h)),
        cell(h.nat),
        cell([...h.learned, ...h.reported.filter((r) => !h.learned.includes(r))].join(' ')),
        cell(h.tunnels === null ? '—' : String(h.tunnels)),
        cell(h.containers.map((c) => c.name).join(', ')),
        cell(h.lastSeen ? new Date(h.lastSeen).toLocaleTimeString() : '—'),
      );
      tr.addEventListener('click', () => select(h.vpnIp));
      return tr;
    }),
  );
  const nameOf = (ip) => mesh.hosts.find((h) => h.vpnIp === ip)?.name ?? ip;
  document.querySelector('#edges-table tbody').replaceChildren(
    ...mesh.edges.map((e) => {
      const tr = document.createElement('tr');
      tr.dataset.edge = edgeId(e);
      tr.append(cell(nameOf(e.from)), cell(nameOf(e.to)), cell(e.kind === 'relayed' ? `relayed via ${nameOf(e.via)}` : 'direct'), cell(formatRtt(e.rttMs)), cell(formatAge(e.ageSeconds)));
      return tr;
    }),
  );
}

function drawDetails() {
  const panel = $('details');
  const host = mesh.hosts.find((h) => h.vpnIp === selected);
  if (!host) {
    panel.innerHTML = '<p class="hint">Click a host for its details and containers.</p>';
    return;
  }
  const h2 = document.createElement('h2');
  h2.textContent = host.name;
  const dl = document.createElement('dl');
  const row = (k, v) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v || '—';
    dl.append(dt, dd);
  };
  row('overlay IP', host.vpnIp);
  row('role', roleOf(host));
  row('groups', host.groups.join(', '));
  row('subnets', host.subnets.join(', '));
  row('NAT', host.nat);
  row('learned', host.learned.join(' '));
  row('reported', host.reported.join(' '));
  row('relays', host.relays.join(', '));
  row('tunnels', host.tunnels === null ? '' : String(host.tunnels));
  row('last seen', host.lastSeen ? new Date(host.lastSeen).toLocaleString() : '');
  const h3 = document.createElement('h3');
  h3.textContent = `containers (${host.containers.length})`;
  const list = document.createElement('ul');
  list.id = 'containers';
  for (const c of host.containers) {
    const li = document.createElement('li');
    li.textContent = `${c.name} ${c.ips.join(', ')}`;
    list.append(li);
  }
  const peers = document.createElement('ul');
  for (const e of mesh.edges.filter((e) => e.from === host.vpnIp || e.to === host.vpnIp)) {
    const other = e.from === host.vpnIp ? e.to : e.from;
    const li = document.createElement('li');
    li.textContent = `${mesh.hosts.find((h) => h.vpnIp === other)?.name ?? other}: ${e.kind === 'relayed' ? `via ${e.via}` : 'direct'}, ${formatRtt(e.rttMs)}`;
    peers.append(li);
  }
  const h3t = document.createElement('h3');
  h3t.textContent = 'tunnels';
  panel.replaceChildren(h2, dl, h3, list, h3t, peers);
  panel.dataset.host = host.vpnIp;
}

function select(vpnIp) {
  selected = vpnIp;
  cy.nodes().unselect();
  if (vpnIp) cy.getElementById(vpnIp).select();
  drawDetails();
}

function show(view) {
  mesh = view;
  const relayed = view.edges.filter((e) => e.kind === 'relayed').length;
  $('summary').textContent = `${view.hosts.length} hosts · ${view.edges.length - relayed} direct · ${relayed} relayed tunnels`;
  drawGraph();
  drawTables();
  drawDetails();
  document.body.dataset.updated = view.generatedAt;
}

function start() {
  cy = cytoscape({
    container: $('graph'),
    wheelSensitivity: 0.3,
    // A small mesh would otherwise be fitted to a giant zoom.
    minZoom: 0.1,
    maxZoom: 1.4,
    style: [
      { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'text-valign': 'bottom', 'text-margin-y': 6, 'font-size': 12, 'background-color': 'data(colour)', shape: 'data(shape)', width: 34, height: 34 } },
      { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#1d2330' } },
      { selector: 'node.dim', style: { opacity: 0.2 } },
      { selector: 'edge', style: { width: 3, 'line-color': 'data(colour)', label: 'data(label)', 'font-size': 10, 'text-background-color': '#fff', 'text-background-opacity': 0.8, 'curve-style': 'bezier' } },
      { selector: 'edge[kind = "relayed"]', style: { 'line-style': 'dashed' } },
    ],
  });
  // On window for the browser console (and the browser test).
  window.cy = cy;
  cy.on('tap', 'node', (event) => select(event.target.id()));
  cy.on('tap', (event) => {
    if (event.target === cy) select(null);
  });
  $('search').addEventListener('input', applySearch);
  $('toggle-view').addEventListener('click', () => {
    const table = $('table-view').hidden;
    $('table-view').hidden = !table;
    $('graph').hidden = table;
    $('toggle-view').textContent = table ? 'map' : 'table';
    if (!table) cy.resize();
  });
  const events = new EventSource('/api/events');
  events.addEventListener('mesh', (event) => show(JSON.parse(event.data)));
  events.addEventListener('open', () => {
    $('status').textContent = 'live';
    $('status').className = 'status live';
  });
  events.addEventListener('error', () => {
    $('status').textContent = 'reconnecting';
    $('status').className = 'status down';
  });
}

window.addEventListener('DOMContentLoaded', start);
