// Meshgate console: one page over the admin API. No framework, no build step: everything here
// is served from the gateway's jar. Text from the gateway is put into the page as text, never as
// HTML. The admin token, when one is needed, is typed by the operator and kept in this tab's
// sessionStorage only.
'use strict';

const TOKEN_KEY = 'meshgate-admin-token';
const REFRESH_MS = 2000;
let info = { auth: 'none', authorized: false, readOnly: true, tester: false };
let timer = null;

// ---- DOM helpers ---------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM: allowed by the page's CSP
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || '') }, text);
}

function connectivityBadge(state) {
  const kind = state === 'READY' ? 'ok' : state === 'CONNECTING' || state === 'IDLE' ? 'warn' : 'bad';
  return badge(state, kind);
}

function show(...nodes) {
  const view = document.getElementById('view');
  view.replaceChildren(...nodes.flat(Infinity).filter(n => n !== null && n !== undefined
    && n !== false));
}

function status(text) {
  document.getElementById('status').textContent = text;
}

// ---- The admin API -------------------------------------------------------------------------

function headers(extra) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const all = Object.assign({}, extra || {});
  if (token) all['Authorization'] = 'Bearer ' + token;
  return all;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({}, options || {},
    { headers: headers((options || {}).headers) }));
  const text = await response.text();
  let body;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
  if (!response.ok) {
    const message = body && body.message ? body.message : response.status + ' ' + text;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

async function loadInfo() {
  info = await api('/api/console');
  renderAuth();
}

function renderAuth() {
  const box = document.getElementById('auth');
  const banner = document.getElementById('banner');
  if (info.readOnly) {
    box.replaceChildren(badge('read-only', 'warn'));
    banner.hidden = false;
    banner.textContent = 'Read-only: this gateway has no admin credential (admin.token or'
      + ' admin.tls.clientCaFile), so the console shows what runs but the call tester and'
      + ' changes are off.';
    return;
  }
  banner.hidden = true;
  if (info.authorized) {
    box.replaceChildren(badge('signed in', 'ok'),
      h('button', { class: 'secondary', id: 'sign-out', onclick: () => {
        sessionStorage.removeItem(TOKEN_KEY);
        loadInfo().then(route);
      } }, 'Sign out'));
    return;
  }
  const input = h('input', { type: 'password', id: 'token', placeholder: 'admin token',
    autocomplete: 'off', size: 24 });
  const form = h('form', { class: 'row', onsubmit: async (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    await loadInfo();
    if (!info.authorized) {
      sessionStorage.removeItem(TOKEN_KEY);
      status('That token is not the admin token.');
      renderAuth();
    }
    route();
  } }, input, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in'));
  box.replaceChildren(form);
}

function needsSignIn() {
  return !info.readOnly && !info.authorized;
}

function signInFirst() {
  show(h('div', { class: 'card', id: 'sign-in-needed' },
    h('h3', {}, 'Sign in'),
    h('p', {}, 'This gateway\'s admin API takes ' + info.auth + '. Enter the admin token'
      + ' above (it stays in this browser tab).')));
}

// ---- Router --------------------------------------------------------------------------------

const views = { overview, clusters, routes, tester, api: restApi };

async function route() {
  clearInterval(timer);
  timer = null;
  const name = (location.hash || '#overview').slice(1);
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.view === name);
  }
  if (needsSignIn() && name !== 'api') {
    signInFirst();
    return;
  }
  const view = views[name] || overview;
  try {
    await view(true);
  } catch (e) {
    show(h('div', { class: 'card' }, h('h3', {}, 'Cannot load this page'),
      h('pre', { class: 'error' }, e.message)));
  }
}

function refreshEvery(render) {
  timer = setInterval(async () => {
    try {
      await render(false);
      status('Updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      status('Update failed: ' + e.message);
    }
  }, REFRESH_MS);
}

// ---- Overview ------------------------------------------------------------------------------

function lineChart(series, width, height) {
  // series: [{points: [[x, y]...], color}], x in ms, y >= 0
  const all = series.flatMap(s => s.points);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none' });
  root.append(svg('rect', { x: 0, y: 0, width, height, fill: '#f9fafb' }));
  if (all.length < 1) return root;
  const now = Date.now();
  const x0 = now - 15 * 60 * 1000;
  const yMax = Math.max(1e-9, ...all.map(p => p[1])) * 1.1;
  for (const s of series) {
    const d = s.points.map((p, i) => {
      const x = Math.max(0, (p[0] - x0) / (now - x0)) * width;
      const y = height - (p[1] / yMax) * (height - 4) - 2;
      return (i ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
    }).join(' ');
    root.append(svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.6,
      'vector-effect': 'non-scaling-stroke' }));
    const last = s.points[s.points.length - 1];
    if (last) {
      // The latest interval as a dot: visible even while the line has one point.
      root.append(svg('circle', { cx: (Math.max(0, (last[0] - x0) / (now - x0)) * width)
        .toFixed(1), cy: (height - (last[1] / yMax) * (height - 4) - 2).toFixed(1), r: 2.5,
        fill: s.color }));
    }
  }
  return root;
}

function chart(title, figure, series) {
  return h('div', { class: 'chart' },
    h('div', { class: 'label' }, h('span', {}, title), h('span', { class: 'figure' }, figure)),
    lineChart(series, 300, 80));
}

function seriesCard(name, rows, intervalMs) {
  const [kind, id] = [name.slice(0, name.indexOf(':')), name.slice(name.indexOf(':') + 1)];
  const last = rows[rows.length - 1] || [0, 0, 0, 0, 0];
  const rps = rows.map(r => [r[0], r[1] / (intervalMs / 1000)]);
  const errors = rows.map(r => [r[0], r[1] ? 100 * r[2] / r[1] : 0]);
  const p50 = rows.filter(r => r[1] > 0).map(r => [r[0], r[3]]);
  const p99 = rows.filter(r => r[1] > 0).map(r => [r[0], r[4]]);
  const lastRps = last[1] / (intervalMs / 1000);
  return h('div', { class: 'card series', 'data-series': name },
    h('h3', {}, kind === 'route' ? 'Route ' : 'Cluster ', h('span', { class: 'mono' }, id)),
    h('div', { class: 'charts' },
      chart('requests/s', lastRps.toFixed(1), [{ points: rps, color: '#2563eb' }]),
      chart('errors', (last[1] ? (100 * last[2] / last[1]).toFixed(1) : '0.0') + '%',
        [{ points: errors, color: '#b91c1c' }]),
      chart('p50 / p99 ms', last[1] ? last[3].toFixed(2) + ' / ' + last[4].toFixed(2) : '–',
        [{ points: p50, color: '#15803d' }, { points: p99, color: '#b45309' }])),
    h('div', { class: 'legend muted' }, 'last 15 min, every ' + intervalMs / 1000 + ' s; ',
      h('span', {}, h('i', { style: 'background:#15803d' }), 'p50'),
      h('span', {}, h('i', { style: 'background:#b45309' }), 'p99')));
}

async function overview(first) {
  const [config, traffic] = await Promise.all([api('/api/config'), api('/api/traffic')]);
  const names = Object.keys(traffic.series);
  const routeCards = names.filter(n => n.startsWith('route:'))
    .map(n => seriesCard(n, traffic.series[n], traffic.intervalMillis));
  const clusterCards = names.filter(n => n.startsWith('cluster:'))
    .map(n => seriesCard(n, traffic.series[n], traffic.intervalMillis));
  show(h('h2', {}, 'Overview'),
    h('p', { class: 'muted', id: 'config-line' }, 'Configuration ' + config.version + ' from '
      + config.source + (config.revision ? ' (revision ' + config.revision + ')' : '')
      + ', applied ' + new Date(config.appliedAt).toLocaleString() + ' — '
      + config.routes.length + ' routes, ' + config.clusters.length + ' clusters'),
    names.length ? null : h('p', { class: 'card muted', id: 'no-traffic' },
      'No calls in the last 15 minutes yet: intervals close every '
      + traffic.intervalMillis / 1000 + ' s.'),
    routeCards.length ? h('h3', {}, 'Routes') : null, h('div', { class: 'grid' }, routeCards),
    clusterCards.length ? h('h3', {}, 'Clusters') : null,
    h('div', { class: 'grid' }, clusterCards));
  if (first) refreshEvery(overview);
}

// ---- Clusters ------------------------------------------------------------------------------

async function clusters(first) {
  const list = await api('/api/clusters');
  const cards = list.map(c => {
    const breaker = c.breaker ? h('div', { class: 'row' }, 'Circuit breaker ',
      badge(c.breaker.state, c.breaker.state === 'closed' ? 'ok' : c.breaker.state === 'open'
        ? 'bad' : 'warn'),
      h('span', { class: 'muted' }, 'failure rate ' + fmtRate(c.breaker.failureRatePercent)
        + ', slow ' + fmtRate(c.breaker.slowCallRatePercent) + ' of ' + c.breaker.calls
        + ' calls; ' + c.breaker.refused + ' refused')) : h('div', { class: 'muted' },
      'No circuit breaker.');
    const channels = Object.entries(c.channels || {}).map(([s, n]) => n + ' ' + s).join(', ');
    let endpoints;
    if (c.endpointStates && c.endpointStates.length === 0) {
      endpoints = h('p', { class: 'muted idle' }, 'No endpoints reported yet: the cluster\'s'
        + ' channels connect on its first call.');
    } else if (c.endpointStates) {
      endpoints = h('table', { class: 'endpoints' },
        h('tr', {}, ['address', 'zone', 'weight', 'state', 'outlier ejection', 'in flight']
          .map(t => h('th', {}, t))),
        c.endpointStates.map(e => h('tr', { 'data-endpoint': e.address },
          h('td', { class: 'mono' }, e.address),
          h('td', {}, e.zone || '–'),
          h('td', {}, e.weight),
          h('td', {}, connectivityBadge(e.connectivity),
            e.problem ? h('div', { class: 'muted problem' }, e.problem) : null),
          h('td', {}, e.ejected ? badge('ejected until ' + new Date(e.ejectedUntil)
            .toLocaleTimeString(), 'bad') : e.ejections ? 'back (' + e.ejections + ' so far)'
            : '–'),
          h('td', {}, e.inFlight))));
    } else {
      endpoints = h('p', { class: 'muted' }, c.endpointStatesNote || '');
    }
    return h('div', { class: 'card cluster', 'data-cluster': c.name },
      h('h3', {}, 'Cluster ', h('span', { class: 'mono' }, c.name)),
      h('div', { class: 'muted' }, c.target + ' — ' + c.lbPolicy
        + (c.healthCheckService !== undefined ? ', health checks' : '')
        + (channels ? ' — channels: ' + channels : '')),
      breaker, endpoints);
  });
  show(h('h2', {}, 'Clusters'), cards);
  if (first) refreshEvery(clusters);
}

function fmtRate(value) {
  return value < 0 ? 'n/a' : value.toFixed(1) + '%';
}

// ---- Routes --------------------------------------------------------------------------------

async function routes(first) {
  const [config, list, reloads] = await Promise.all([api('/api/config'), api('/api/routes'),
    api('/api/reloads')]);
  const table = h('table', { id: 'routes' },
    h('tr', {}, ['route', 'match', 'to', 'deadline', 'policies'].map(t => h('th', {}, t))),
    list.map(r => h('tr', { 'data-route': r.name },
      h('td', { class: 'mono' }, r.name),
      h('td', { class: 'mono' }, describeMatch(r.match)),
      h('td', {}, r.cluster ? h('span', { class: 'mono' }, r.cluster)
        : (r.split || []).map(s => h('div', { class: 'mono' }, s.cluster + ' × ' + s.weight)),
        (r.canaryRules || []).map(c => h('div', { class: 'muted' }, (c.header ? 'header '
          + c.header : 'claim ' + c.claim) + ' = ' + c.value + ' → ' + c.cluster))),
      h('td', {}, [r.timeout ? 'timeout ' + r.timeout : null, r.maxTimeout ? 'max '
        + r.maxTimeout : null].filter(Boolean).join(', ') || '–'),
      h('td', {}, r.policies.length ? r.policies.map(p => badge(p)) : '–'))));
  const history = h('div', { id: 'reloads' }, reloads.map(e => h('div', {
    class: 'event ' + (e.applied ? 'end ok' : 'error'), 'data-applied': String(e.applied) },
    h('div', {}, badge(e.applied ? 'applied' : 'refused', e.applied ? 'ok' : 'bad'), ' ',
      new Date(e.at).toLocaleString(), ' — ', e.source, ', version ', e.version),
    e.applied ? h('div', { class: 'muted' }, e.message) : h('pre', {}, e.message))));
  show(h('h2', {}, 'Routes'),
    h('p', { class: 'muted' }, 'Configuration ' + config.version + ' from ' + config.source
      + (config.revision ? ', revision ' + config.revision : '') + ', applied '
      + new Date(config.appliedAt).toLocaleString()),
    h('div', { class: 'card' }, table),
    h('h3', {}, 'Reloads'), h('div', { class: 'card' }, history));
  if (first) refreshEvery(routes);
}

function describeMatch(m) {
  const parts = [];
  if (m.service) parts.push(m.service);
  if (m.servicePrefix !== undefined) parts.push((m.servicePrefix || '') + '*');
  if (m.method) parts.push('/' + m.method);
  if (m.authority) parts.push(' @ ' + m.authority.join(', '));
  return parts.join('');
}

// ---- Call tester ---------------------------------------------------------------------------

let services = null;

async function tester() {
  if (!info.tester) {
    show(h('h2', {}, 'Call tester'), h('div', { class: 'card', id: 'tester-off' },
      'The call tester is off: it sends real calls, so it needs an admin credential'
      + ' (admin.token or admin.tls.clientCaFile), and this gateway has none.'));
    return;
  }
  services = await api('/api/services');
  if (!services.length) {
    show(h('h2', {}, 'Call tester'), h('div', { class: 'card' }, 'No descriptors are loaded'
      + ' (transcoding.descriptors or reflection): the tester needs them to encode requests.'));
    return;
  }
  const serviceSelect = h('select', { id: 'service' },
    services.map(s => h('option', { value: s.name }, s.name)));
  const methodSelect = h('select', { id: 'method' });
  const request = h('textarea', { id: 'request', spellcheck: 'false' });
  const metadata = h('textarea', { id: 'metadata', spellcheck: 'false',
    placeholder: 'one per line — name: value', style: 'min-height:60px' });
  const timeout = h('input', { id: 'timeout', type: 'number', value: 10000, min: 1,
    style: 'width:90px' });
  const kind = h('span', { class: 'muted', id: 'kind' });
  const output = h('div', { id: 'response' });
  const send = h('button', { id: 'send' }, 'Send');

  function method() {
    const s = services.find(x => x.name === serviceSelect.value);
    return s.methods.find(m => m.name === methodSelect.value);
  }
  function fillMethods() {
    const s = services.find(x => x.name === serviceSelect.value);
    methodSelect.replaceChildren(...s.methods.map(m => h('option', { value: m.name }, m.name)));
    fillTemplate();
  }
  function fillTemplate() {
    const m = method();
    kind.textContent = m.kind + ' — ' + m.inputType + ' → ' + m.outputType;
    const template = m.clientStreaming ? [m.template, m.template] : m.template;
    request.value = JSON.stringify(template, null, 2);
  }
  serviceSelect.addEventListener('change', fillMethods);
  methodSelect.addEventListener('change', fillTemplate);
  send.addEventListener('click', () => sendCall(method(), request.value, metadata.value,
    Number(timeout.value), output, send));
  show(h('h2', {}, 'Call tester'),
    h('div', { class: 'cols' },
      h('div', { class: 'card' },
        h('div', { class: 'row' }, serviceSelect, methodSelect),
        h('div', { class: 'row' }, kind),
        h('label', {}, 'Request (JSON; a list of messages for a client stream)'), request,
        h('label', {}, 'Metadata'), metadata,
        h('div', { class: 'row' }, 'Deadline (ms) ', timeout, send)),
      h('div', { class: 'card' }, h('h3', {}, 'Response'), output)));
  fillMethods();
}

function metadataObject(text) {
  const o = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) o[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return o;
}

async function sendCall(m, text, metadata, timeoutMillis, output, button) {
  let messages;
  try {
    const parsed = JSON.parse(text);
    messages = m.clientStreaming && Array.isArray(parsed) ? parsed : [parsed];
  } catch (e) {
    output.replaceChildren(h('div', { class: 'event error' }, 'The request is not JSON: '
      + e.message));
    return;
  }
  output.replaceChildren();
  button.disabled = true;
  try {
    const response = await fetch('/api/call', {
      method: 'POST',
      headers: headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ method: m.path, messages, metadata: metadataObject(metadata),
        timeoutMillis }),
    });
    if (!response.ok) {
      const body = await response.text();
      let message = body;
      try { message = JSON.parse(body).message; } catch (e) { /* as it is */ }
      output.append(h('div', { class: 'event error' }, message));
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim()) output.append(renderEvent(JSON.parse(line)));
      }
    }
  } catch (e) {
    output.append(h('div', { class: 'event error' }, e.message));
  } finally {
    button.disabled = false;
  }
}

function renderEvent(e) {
  const at = e.atMillis !== undefined ? h('span', { class: 'muted' }, ' at ' + e.atMillis
    + ' ms') : null;
  switch (e.event) {
    case 'headers':
      return h('div', { class: 'event headers' }, h('strong', {}, 'Headers'), at,
        h('pre', {}, JSON.stringify(e.headers, null, 2)));
    case 'message':
      return h('div', { class: 'event message', 'data-index': e.index },
        h('strong', {}, 'Message #' + (e.index + 1)), at,
        h('pre', {}, e.message !== undefined ? JSON.stringify(e.message, null, 2)
          : e.undecodable));
    case 'end':
      return h('div', { class: 'event end ' + (e.code === 'OK' ? 'ok' : 'bad'), id: 'end' },
        h('strong', {}, 'Status '), badge(e.code, e.code === 'OK' ? 'ok' : 'bad'), at,
        e.description ? h('pre', { class: 'description' }, e.description) : null,
        h('div', { class: 'muted count' }, e.messages + ' message(s)'),
        Object.keys(e.trailers || {}).length ? h('pre', {}, 'Trailers: '
          + JSON.stringify(e.trailers, null, 2)) : null);
    default:
      return h('div', { class: 'event error', id: 'end' }, e.message || JSON.stringify(e));
  }
}

// ---- REST API (the OpenAPI document) -------------------------------------------------------

async function restApi() {
  const doc = await fetch('/openapi.json').then(r => r.json());
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [verb, op] of Object.entries(item)) {
      if (['get', 'put', 'post', 'delete', 'patch'].includes(verb)) ops.push({ path, verb, op });
    }
  }
  const byTag = {};
  for (const o of ops) (byTag[(o.op.tags || ['other'])[0]] ||= []).push(o);
  show(h('h2', {}, doc.info.title + ' '), h('p', { class: 'muted' }, 'OpenAPI ' + doc.openapi
      + ' generated from the loaded descriptors (' + (doc.info.version || '') + '): ',
      h('a', { href: '/openapi.json' }, 'openapi.json'), ', ',
      h('a', { href: '/openapi.yaml' }, 'openapi.yaml')),
    Object.entries(byTag).map(([tag, list]) => h('div', { class: 'card' }, h('h3', {}, tag),
      list.map(o => operation(doc, o)))));
}

function resolveRef(doc, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split('/').pop();
    return doc.components.schemas[name];
  }
  return schema;
}

function operation(doc, { path, verb, op }) {
  const params = op.parameters || [];
  const inputs = {};
  const rows = params.map(p => {
    inputs[p.name] = h('input', { 'data-param': p.name, placeholder: p.in, size: 18 });
    return h('tr', {}, h('td', { class: 'mono' }, p.name), h('td', {}, p.in),
      h('td', { class: 'muted' }, p.description || ''), h('td', {}, inputs[p.name]));
  });
  const bodySchema = op.requestBody && op.requestBody.content
    && (op.requestBody.content['application/json'] || {}).schema;
  const body = bodySchema ? h('textarea', { class: 'body', spellcheck: 'false',
    style: 'min-height:80px' }, JSON.stringify(example(doc, bodySchema, 0), null, 2)) : null;
  const result = h('div', { class: 'result' });
  const tryIt = h('button', { class: 'try', onclick: async () => {
    let url = path.replace(/\{([^}=]+)(=[^}]*)?\}/g, (_, name) =>
      encodeURIComponent(inputs[name] ? inputs[name].value : '').replace(/%2F/gi, '/'));
    const query = params.filter(p => p.in === 'query' && inputs[p.name].value)
      .map(p => encodeURIComponent(p.name) + '=' + encodeURIComponent(inputs[p.name].value));
    if (query.length) url += '?' + query.join('&');
    result.replaceChildren(h('span', { class: 'muted' }, 'sending…'));
    try {
      const answer = await api('/api/http', { method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method: verb.toUpperCase(), path: url,
          body: body ? body.value : null }) });
      result.replaceChildren(h('div', { class: 'row' }, badge(String(answer.status),
        answer.status < 400 ? 'ok' : 'bad'), h('span', { class: 'muted' },
        verb.toUpperCase() + ' ' + url + ' in ' + answer.millis.toFixed(1) + ' ms')),
        h('pre', { class: 'answer' }, pretty(answer.body)));
    } catch (e) {
      result.replaceChildren(h('pre', { class: 'error' }, e.message));
    }
  } }, 'Try it');
  if (!info.tester) tryIt.disabled = true;
  return h('details', { class: 'op', 'data-op': verb.toUpperCase() + ' ' + path },
    h('summary', {}, badge(verb.toUpperCase(), 'method'), ' ', h('span', { class: 'mono' }, path),
      ' ', h('span', { class: 'muted' }, op.summary || op.operationId || '')),
    op.description ? h('p', {}, op.description) : null,
    rows.length ? h('table', {}, h('tr', {}, ['parameter', 'in', '', 'value']
      .map(t => h('th', {}, t))), rows) : null,
    body ? h('div', {}, h('label', {}, 'Body'), body) : null,
    h('div', { class: 'row' }, tryIt, info.tester ? null : h('span', { class: 'muted' },
      'off without an admin credential')),
    result);
}

function example(doc, schema, depth) {
  schema = resolveRef(doc, schema) || {};
  if (depth > 3) return null;
  if (schema.type === 'object' || schema.properties) {
    const o = {};
    for (const [k, v] of Object.entries(schema.properties || {})) o[k] = example(doc, v, depth + 1);
    return o;
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'array': return [];
    case 'integer': case 'number': return 0;
    case 'boolean': return false;
    case 'string': return schema.enum ? schema.enum[0] : '';
    default: return null;
  }
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}

// ---- Start ---------------------------------------------------------------------------------

window.addEventListener('hashchange', route);
loadInfo().then(route).catch(e => show(h('pre', {}, 'Cannot reach the admin API: '
  + e.message)));
