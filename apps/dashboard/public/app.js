// VaultMesh dashboard: plain ES module, no framework, no build step, no requests beyond this node's API.
import { verifyReceiptInclusion } from './verify.js';

const TOKEN_KEY = 'vaultmesh.apiToken';
const REFRESH_MS = 5000;

const KINDS = [
  'decision',
  'deploy',
  'plan',
  'step',
  'audit',
  'route',
  'policy',
  'anchor',
  'federation',
  'evidence',
  'spawn',
  'key',
  'tool',
  'analysis',
  'psi',
];

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`dashboard markup is missing #${id}`);
  return el;
};

/** Creates an element with text content (never innerHTML: receipt fields are untrusted). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

// --- API --------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

async function api(path, { auth = false } = {}) {
  const headers = { accept: 'application/json' };
  const token = readToken();
  if (auth && token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, { headers, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `cannot reach the node (${e instanceof Error ? e.message : String(e)})`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new ApiError(res.status, `${path} returned a response that is not JSON`);
  }
  if (!res.ok) {
    const detail = body && (body.detail || body.title) ? body.detail || body.title : res.statusText;
    throw new ApiError(res.status, `${res.status} ${detail}`, body && body.code);
  }
  return body;
}

/** Human wording for an error from an authenticated call. */
function describeError(e) {
  if (e instanceof ApiError && e.status === 401) {
    return readToken()
      ? 'The node rejected the API token (401): it is unknown, expired or revoked. Paste a valid token above.'
      : 'Reading receipts needs an API token (401). Create one with "vm token create --role viewer" and paste it above.';
  }
  if (e instanceof ApiError && e.status === 403) {
    return `This token may not read these receipts (403): ${e.message.replace(/^403 /, '')}`;
  }
  return e instanceof Error ? e.message : String(e);
}

// --- formatting -------------------------------------------------------------------------------------------

function age(iso) {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return '?';
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

const shortTime = (iso) =>
  String(iso)
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
const short = (hex, n = 12) => (typeof hex === 'string' ? hex.slice(0, n) + '…' : '?');
const str = (v) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** One line that says what a receipt is about, by kind. */
function summary(r) {
  const b = r.body ?? {};
  switch (r.kind) {
    case 'decision':
      return [str(b.title), b.status ? `(${b.status})` : ''].filter(Boolean).join(' ');
    case 'deploy':
      return `${str(b.service)} ${str(b.version)} → ${str(b.environment)}${b.status ? ` (${str(b.status)})` : ''}`;
    case 'plan':
      return `${str(b.planId)}: ${str(b.goal)}`;
    case 'step':
      return `${str(b.planId)}/${str(b.stepId)} ${str(b.action)} (${str(b.status)})`;
    case 'audit':
      return `${str(b.subject)}: ${str(b.result)}`;
    case 'route':
      return `${str(b.jobId)} → ${str(b.provider)}: ${str(b.reason)}`;
    case 'policy':
      return `${str(b.decision)} ${str(b.principal)} ${str(b.action)} ${str(b.resource)}`;
    case 'anchor':
      return `size ${str(b.treeSize)} root ${short(b.rootHash)} at ${str(b.authority)}`;
    case 'federation':
      return `${str(b.operation)} ${str(b.peer)}`;
    case 'evidence': {
      const n = Object.keys(b.digests ?? {}).length;
      return `${str(b.subject)} (${n} digest${n === 1 ? '' : 's'})`;
    }
    case 'spawn':
      return `${str(b.service)} from ${str(b.template)}`;
    case 'key':
      return `${str(b.operation)} ${str(b.keyName)}`;
    case 'tool':
      return `${str(b.tool)} via ${str(b.via)}: ${str(b.outcome)}`;
    case 'analysis':
      return `${str(b.runId)} ${str(b.record)}: ${str(b.result)}`;
    case 'psi':
      return b.record === 'forecasts'
        ? `${str(b.series)}: ${Array.isArray(b.points) ? b.points.length : 0} forecasts committed, ${str(b.horizon)} points ahead`
        : `${str(b.series)}: anomaly at ${str(b.at)} (likelihood ${str(b.likelihood)}, value ${str(b.value)}, forecast ${str(b.forecast)})`;
    default:
      return JSON.stringify(b);
  }
}

// --- banner (errors that are not tied to one panel) ------------------------------------------------------

const bannerErrors = new Map();
function setBanner(key, message) {
  if (message) bannerErrors.set(key, message);
  else bannerErrors.delete(key);
  const banner = $('banner');
  banner.replaceChildren(...[...bannerErrors.values()].map((m) => h('p', { text: m })));
  banner.hidden = bannerErrors.size === 0;
}

window.addEventListener('unhandledrejection', (ev) => {
  const r = ev.reason;
  setBanner('unexpected', `Unexpected error: ${r instanceof Error ? r.message : String(r)}`);
});
window.addEventListener('error', (ev) => setBanner('unexpected', `Unexpected error: ${ev.message}`));

// --- header -----------------------------------------------------------------------------------------------

let verifierKey = '';

function setHealth(state, text) {
  const el = $('health');
  el.dataset.state = state;
  $('health-text').textContent = text;
}

async function refreshHeader() {
  const [health, status, cp] = await Promise.allSettled([
    api('/api/system/health'),
    api('/api/backend/status'),
    api('/api/ledger/checkpoint'),
  ]);
  const problems = [];

  if (health.status === 'fulfilled' && health.value.status === 'ok') {
    setHealth('ok', `healthy · up ${health.value.uptimeSeconds} s`);
  } else if (health.status === 'fulfilled') {
    setHealth('warn', String(health.value.status));
  } else {
    setHealth('down', 'unreachable');
    problems.push(`Health check failed: ${describeError(health.reason)}`);
  }

  if (status.status === 'fulfilled') {
    const s = status.value;
    verifierKey = s.verifierKey;
    $('origin').textContent = s.origin;
    $('origin').title = `verifier key ${s.verifierKey}`;
    const mode = $('mode');
    mode.textContent = s.mode;
    mode.dataset.mode = s.mode;
    mode.title = `storage ${s.storage} · version ${s.version} · key ${s.keySealed ? 'sealed' : 'not sealed'}`;
    $('size').textContent = s.ledger.size.toLocaleString('en-US');
    const pending = s.ledger.size - s.ledger.checkpointSize;
    $('size-sub').textContent = pending > 0 ? `${pending} not yet checkpointed` : 'all checkpointed';
  } else {
    problems.push(`Backend status failed: ${describeError(status.reason)}`);
  }

  if (cp.status === 'fulfilled') {
    $('cp-size').textContent = `size ${cp.value.size.toLocaleString('en-US')}`;
    $('cp-root').textContent = short(cp.value.root, 12);
    $('cp-root').title = `root ${cp.value.root}`;
    $('cp-age').textContent = age(cp.value.createdAt);
    $('cp-age').title = cp.value.createdAt;
  } else if (cp.reason instanceof ApiError && cp.reason.status === 404) {
    $('cp-size').textContent = 'none yet';
    $('cp-root').textContent = '';
    $('cp-age').textContent = 'run "vm checkpoint"';
  } else {
    problems.push(`Checkpoint failed: ${describeError(cp.reason)}`);
  }

  const unreachable = [health, status, cp].every(
    (r) => r.status === 'rejected' && r.reason instanceof ApiError && r.reason.status === 0,
  );
  $('stats').classList.toggle('stale', health.status === 'rejected');
  setBanner(
    'header',
    unreachable
      ? `Cannot reach the node at ${location.origin}: the values shown are stale. Retrying every ${REFRESH_MS / 1000} s.`
      : problems.join(' · '),
  );
  $('updated').textContent =
    `Last checked ${new Date().toLocaleTimeString('en-GB')} · refreshes every ${REFRESH_MS / 1000} s`;
}

// --- token ------------------------------------------------------------------------------------------------

function showTokenState() {
  const t = readToken();
  const m = /^vm_([0-9a-f]+)_/.exec(t);
  $('token-state').textContent = t
    ? `Token saved in this browser${m ? ` (id ${m[1]})` : ''}.`
    : 'No token saved: receipts cannot be read.';
  $('token-state').dataset.state = t ? 'ok' : 'warn';
  $('token-clear').disabled = !t;
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('token');
  const value = input.value.trim();
  if (!value) {
    $('token-state').textContent = 'Paste a token first.';
    $('token-state').dataset.state = 'warn';
    return;
  }
  try {
    localStorage.setItem(TOKEN_KEY, value);
  } catch (e) {
    setBanner('token', `Could not store the token: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  input.value = '';
  showTokenState();
  void loadReceipts(true);
  void loadJobs();
  void loadPsi();
});

$('token-clear').addEventListener('click', () => {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing stored, nothing to forget.
  }
  showTokenState();
  void loadReceipts(true);
  void loadJobs();
  void loadPsi();
});

// --- receipts ---------------------------------------------------------------------------------------------

const list = {
  /** Cursor of each page visited so far (null = first page); the last one is the current page. */
  cursors: [null],
  next: null,
  items: [],
  selected: null,
  seq: 0,
};

function receiptQuery(cursor) {
  const p = new URLSearchParams({ order: 'desc', limit: $('page-size').value });
  const kind = $('kind').value;
  const q = $('search').value.trim();
  if (kind) p.set('kind', kind);
  if (q) p.set('q', q);
  if (cursor) for (const [k, v] of Object.entries(cursor)) p.set(k, String(v));
  return `/api/ledger/receipts?${p}`;
}

/** Shows a panel's one-line message (hidden when empty). */
function setMessage(id, text, state = 'info') {
  const el = $(id);
  el.textContent = text ?? '';
  el.dataset.state = state;
  el.hidden = !text;
}

const setListMessage = (text, state) => setMessage('receipts-msg', text, state);

/**
 * A refresh function for a panel that needs a token: without one it clears the panel and says so; otherwise it
 * marks the panel busy, loads, and renders unless a newer refresh started meanwhile. `render` returns the panel's
 * message ('' for none); a failure clears what `clearOnError` clears and shows the error.
 */
function panelRefresher({ panel, msg, noToken, clear, clearOnError = clear, load, render, errorText }) {
  let seq = 0;
  return async () => {
    const mine = ++seq;
    if (!readToken()) {
      clear();
      setMessage(msg, noToken);
      return;
    }
    $(panel).setAttribute('aria-busy', 'true');
    try {
      const data = await load();
      if (mine !== seq) return;
      setMessage(msg, render(data));
    } catch (e) {
      if (mine !== seq) return;
      clearOnError();
      setMessage(msg, (errorText ?? describeError)(e), 'error');
    } finally {
      if (mine === seq) $(panel).setAttribute('aria-busy', 'false');
    }
  };
}

async function loadReceipts(reset = false) {
  if (reset) list.cursors = [null];
  const seq = ++list.seq;
  const cursor = list.cursors[list.cursors.length - 1];
  $('receipts').setAttribute('aria-busy', 'true');
  try {
    const page = await api(receiptQuery(cursor), { auth: true });
    if (seq !== list.seq) return; // a newer request superseded this one
    list.items = page.items;
    list.next = page.next;
    renderReceipts();
    const filtered = $('kind').value || $('search').value.trim();
    if (page.items.length === 0) {
      setListMessage(
        filtered ? 'No receipts match these filters.' : 'The ledger has no receipts yet.',
        'info',
      );
    } else {
      setListMessage('');
    }
  } catch (e) {
    if (seq !== list.seq) return;
    list.items = [];
    list.next = null;
    renderReceipts();
    const authProblem = e instanceof ApiError && (e.status === 401 || e.status === 403);
    setListMessage(describeError(e), authProblem ? 'warn' : 'error');
  } finally {
    if (seq === list.seq) $('receipts').setAttribute('aria-busy', 'false');
  }
}

function renderReceipts() {
  const rows = list.items.map((item) => {
    const r = item.receipt;
    const selected = list.selected !== null && list.selected.index === item.index;
    const row = h(
      'tr',
      { 'data-index': String(item.index), class: selected ? 'selected' : '' },
      h(
        'td',
        { class: 'num' },
        h('button', {
          type: 'button',
          class: 'linklike',
          text: `#${item.index}`,
          'aria-label': `Show receipt ${item.index}`,
          onclick: (ev) => {
            ev.stopPropagation();
            select(item);
          },
        }),
      ),
      h('td', { class: 'time', text: shortTime(r.time), title: r.time }),
      h('td', {}, h('span', { class: `kind kind-${r.kind}`, text: r.kind })),
      h('td', { text: r.tenant }),
      h('td', { class: 'actor', text: r.actor }),
      h('td', { class: 'summary', text: summary(r) }),
    );
    if (selected) row.setAttribute('aria-current', 'true');
    row.addEventListener('click', () => select(item));
    return row;
  });
  $('receipts-body').replaceChildren(...rows);
  const page = list.cursors.length;
  $('page-info').textContent = list.items.length
    ? `Page ${page} · ${list.items.length} receipt${list.items.length === 1 ? '' : 's'} (#${list.items[0].index}–#${list.items[list.items.length - 1].index})`
    : `Page ${page}`;
  $('prev').disabled = page <= 1;
  $('next').disabled = !list.next;
}

let searchTimer = 0;
$('filters').addEventListener('submit', (ev) => {
  ev.preventDefault();
  clearTimeout(searchTimer);
  void loadReceipts(true);
  void loadJobs();
  void loadPsi();
});
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => void loadReceipts(true), 300);
});
$('kind').addEventListener('change', () => void loadReceipts(true));
$('page-size').addEventListener('change', () => void loadReceipts(true));
$('refresh').addEventListener('click', () => void loadReceipts(false));
$('next').addEventListener('click', () => {
  if (!list.next) return;
  list.cursors.push(list.next);
  void loadReceipts();
});
$('prev').addEventListener('click', () => {
  if (list.cursors.length <= 1) return;
  list.cursors.pop();
  void loadReceipts();
});

// --- detail and verification ------------------------------------------------------------------------------

function select(item) {
  list.selected = item;
  renderReceipts();
  $('detail-empty').hidden = true;
  $('detail').hidden = false;
  $('detail-title').textContent = `Receipt #${item.index}`;
  $('detail-kind').textContent = item.receipt.kind;
  $('detail-leaf').textContent = item.leafHash;
  $('detail-json').textContent = JSON.stringify(item.receipt, null, 2);
  resetVerification();
}

function resetVerification() {
  const out = $('verify-result');
  out.textContent = '';
  out.dataset.state = '';
  $('verify-steps').replaceChildren();
  $('verify').disabled = false;
}

function showVerdict(state, text) {
  const out = $('verify-result');
  out.dataset.state = state;
  out.textContent = text;
}

async function verifySelected() {
  const item = list.selected;
  if (!item) return;
  resetVerification();
  $('verify').disabled = true;
  showVerdict('pending', 'Verifying…');
  try {
    // Always prove against the newest checkpoint, not the one the header last saw.
    let cp;
    try {
      cp = await api('/api/ledger/checkpoint');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        showVerdict('warn', '… no checkpoint published yet: run "vm checkpoint", then verify again.');
        return;
      }
      throw e;
    }
    if (item.index >= cp.size) {
      showVerdict(
        'warn',
        `… receipt #${item.index} is newer than the latest checkpoint (size ${cp.size}); verify again after the next checkpoint.`,
      );
      return;
    }
    const proof = await api(`/api/ledger/proof/inclusion?index=${item.index}&size=${cp.size}`);
    const result = await verifyReceiptInclusion(item, cp, proof, cp.verifierKey || verifierKey);
    if (list.selected !== item) return; // the user moved on
    $('verify-steps').replaceChildren(
      ...result.steps.map((s) =>
        h(
          'li',
          { 'data-ok': s.ok === null ? 'skip' : String(s.ok) },
          h('span', { class: 'mark', 'aria-hidden': 'true', text: s.ok === null ? '–' : s.ok ? '✓' : '✗' }),
          h('span', {
            text: `${s.ok === null ? 'Not checked: ' : s.ok ? '' : 'FAILED: '}${s.label}${s.detail ? ` — ${s.detail}` : ''}`,
          }),
        ),
      ),
    );
    if (result.ok) {
      showVerdict(
        'ok',
        `✓ verified: receipt #${item.index} is in the log at checkpoint size ${cp.size} (root ${short(cp.root)})`,
      );
    } else {
      showVerdict('fail', `✗ failed: receipt #${item.index} could not be verified against the checkpoint`);
    }
  } catch (e) {
    showVerdict('fail', `✗ failed: ${describeError(e)}`);
  } finally {
    $('verify').disabled = false;
  }
}

$('verify').addEventListener('click', () => void verifySelected());

// --- GPU jobs (Aurora) ------------------------------------------------------------------------------------

const loadJobs = panelRefresher({
  panel: 'jobs',
  msg: 'jobs-msg',
  noToken: 'Listing GPU jobs needs an API token.',
  clear: () => {
    $('jobs-body').replaceChildren();
    $('providers-line').textContent = '';
  },
  clearOnError: () => $('jobs-body').replaceChildren(),
  load: () =>
    Promise.all([
      api('/api/aurora/jobs?limit=50', { auth: true }),
      api('/api/aurora/providers', { auth: true }),
    ]),
  render: ([jobs, providers]) => {
    const ps = providers.providers ?? [];
    $('providers-line').textContent = ps.length
      ? `Providers: ${ps
          .map((p) => {
            const rel = p.standing?.observedReliability;
            return `${p.name} (${p.type}${p.treaty ? `, treaty ${p.treaty}` : ''}${rel !== undefined ? `, ${(rel * 100).toFixed(0)}% placed` : ''})`;
          })
          .join(' · ')}`
      : 'No compute providers are configured (aurora.providers in the node config).';
    const items = jobs.jobs ?? [];
    $('jobs-body').replaceChildren(
      ...items.map((j) =>
        h(
          'tr',
          { 'data-job': j.id, 'data-state': j.state },
          h('td', { class: 'mono', text: j.id }),
          h('td', { text: str(j.tenant) }),
          h('td', { text: str(j.workload?.id) }),
          h('td', {}, h('span', { class: `badge state-${j.state}`, text: j.state })),
          h('td', { text: j.provider ? `${j.provider}/${j.region}` : '—' }),
          h('td', {
            class: 'num',
            text: typeof j.pricePerHour === 'number' ? `$${j.pricePerHour.toFixed(2)}` : '—',
          }),
          h('td', {
            text: (j.attempts ?? []).map((a) => `${a.provider} ${a.ok ? '✓' : '✗'}`).join(', ') || '—',
            title: (j.attempts ?? [])
              .map(
                (a) =>
                  `${a.provider}/${a.region}: ${a.ok ? 'placed' : (a.error ?? 'failed')} (route receipt #${a.receipt?.index})`,
              )
              .join('\n'),
          }),
          h('td', { text: shortTime(j.createdAt) }),
        ),
      ),
    );
    return items.length ? '' : 'No GPU jobs yet (vm deploy submit).';
  },
});

$('jobs-refresh').addEventListener('click', () => void loadJobs());

// --- Ψ-Field ----------------------------------------------------------------------------------------------

const fmtNum = (x) =>
  typeof x !== 'number' || !Number.isFinite(x) ? '—' : Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(3);

const clearPsi = () => {
  $('psi-body').replaceChildren();
  $('psi-anomalies').replaceChildren();
};

const loadPsi = panelRefresher({
  panel: 'psi',
  msg: 'psi-msg',
  noToken: 'The Ψ-Field needs an API token scoped to every tenant (*).',
  clear: () => {
    clearPsi();
    $('psi-line').textContent = '';
  },
  clearOnError: clearPsi,
  load: () =>
    Promise.all([api('/api/psi/series', { auth: true }), api('/api/psi/anomalies?limit=10', { auth: true })]),
  errorText: (e) =>
    e instanceof ApiError && e.status === 403
      ? 'The Ψ-Field is node-wide: reading it needs a token scoped to every tenant (*).'
      : describeError(e),
  render: ([field, anomalies]) => {
    const series = field.series ?? [];
    $('psi-line').textContent =
      `${series.length} series, sampled every ${field.intervalMs / 1000} s; an anomaly opens at a likelihood of ${field.anomalyThreshold}.`;
    $('psi-body').replaceChildren(
      ...series.map((s) =>
        h(
          'tr',
          { 'data-series': s.name, 'data-state': s.anomalous ? 'anomalous' : 'ok' },
          // A known range: the context detector runs beside the model (docs/psi.md).
          h(
            'td',
            { class: 'mono' },
            s.name,
            ...(s.range
              ? [
                  h('span', {
                    class: 'muted',
                    title: 'known range: the context detector runs beside the model',
                    text: ` ${s.range.min}–${s.range.max}`,
                  }),
                ]
              : []),
          ),
          h('td', { class: 'num', text: String(s.points) }),
          h('td', { class: 'num', text: fmtNum(s.last?.value) }),
          h('td', { class: 'num', text: fmtNum(s.last?.forecast) }),
          h('td', {
            class: 'num',
            text: s.next ? `${fmtNum(s.next.mean)} ± ${fmtNum(2 * s.next.std)}` : '—',
          }),
          h('td', {
            class: 'num',
            text: s.last ? s.last.likelihood.toFixed(4) : '—',
            ...(s.last?.context === undefined ? {} : { title: `context score ${s.last.context.toFixed(3)}` }),
          }),
          h('td', { class: 'num', text: fmtNum(s.last?.metrics?.psi) }),
          h(
            'td',
            {},
            h('span', {
              class: `badge ${s.anomalous ? 'state-failed' : 'state-succeeded'}`,
              text: s.anomalous ? 'anomaly' : 'as forecast',
            }),
          ),
        ),
      ),
    );
    const episodes = anomalies.anomalies ?? [];
    if (episodes.length === 0)
      $('psi-anomalies').replaceChildren(h('li', { class: 'muted', text: 'None so far.' }));
    else
      $('psi-anomalies').replaceChildren(
        ...episodes.map((a) =>
          h('li', {
            text: `${a.series}: ${shortTime(new Date(a.start).toISOString())}, ${a.points} point${a.points === 1 ? '' : 's'}, peak likelihood ${a.peak.likelihood.toFixed(5)} (value ${fmtNum(a.peak.value)}, forecast ${fmtNum(a.peak.forecast)})${a.open ? ', still open' : ''}`,
          }),
        ),
      );
    return series.length ? '' : 'The node watches no series (psi.series in the node config).';
  },
});

$('psi-refresh').addEventListener('click', () => void loadPsi());

// --- start ------------------------------------------------------------------------------------------------

$('kind').append(...KINDS.map((k) => h('option', { value: k, text: k })));
$('node-url').textContent = location.origin;
showTokenState();
void refreshHeader();
setInterval(() => void refreshHeader(), REFRESH_MS);
void loadReceipts(true);
void loadJobs();
setInterval(() => void loadJobs(), REFRESH_MS);
void loadPsi();
setInterval(() => void loadPsi(), REFRESH_MS);
