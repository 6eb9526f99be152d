// @ts-check
/**
 * The live dashboard page. Signs in (an API key is exchanged once for an admin token pair and
 * forgotten; tokens live in this module's memory only), then updates from socket events alone:
 * `dashboard:metrics` once a second, `signal:fused` as signals are fused, `sync:progress` as
 * integration syncs run and `backup:status` as backup runs end, each tile repainted at most once
 * a second. REST is used for sign-in, token refresh, sign-out and one-time loads of the fused
 * signals and the integration connections (at sign-in and after a reconnection; syncs-tile.js
 * says when it reads a connection again).
 */
import {
  appendRow,
  createConflator,
  credentialKind,
  describeExclusion,
  describeFeeds,
  formatAge,
  formatCount,
  formatInterval,
  formatLocalTime,
  formatMeasurement,
  formatPercent,
  formatWithUnit,
  readTokenClaims,
  refreshDelayMs,
  signInError,
} from './format.js';
import { byId, el, find } from './dom.js';
import { createSyncsTile } from './syncs-tile.js';
import { createBackupsTile } from './backups-tile.js';

/** @typedef {import('./types.js').DashboardMetrics} DashboardMetrics */
/** @typedef {import('./types.js').FusedSignal} FusedSignal */
/** @typedef {import('./types.js').TokenPair} TokenPair */
/** @typedef {import('./types.js').DashboardSocket} DashboardSocket */
/** @typedef {import('./types.js').ConnectErrorData} ConnectErrorData */

/** The external user id the page's admin token is minted for. */
const DASHBOARD_USER = 'dashboard-admin';
/** Points kept per chart: ten minutes of one-second ticks. */
const CHART_POINTS = 600;
const CHART_HEIGHT = 170;

const ui = {
  signIn: byId('sign-in', HTMLElement),
  form: byId('sign-in-form', HTMLFormElement),
  credential: byId('credential', HTMLInputElement),
  signInButton: byId('sign-in-button', HTMLButtonElement),
  signInError: byId('sign-in-error', HTMLElement),
  signInNotice: byId('sign-in-notice', HTMLElement),
  session: byId('session', HTMLElement),
  tenant: byId('tenant-label', HTMLElement),
  connection: byId('connection', HTMLElement),
  signOut: byId('sign-out', HTMLButtonElement),
  board: byId('board', HTMLElement),
  lastUpdate: byId('last-update', HTMLElement),
};
/** The board's markup before any data, restored at sign-out (static markup: no script in it). */
const emptyBoard = ui.board.innerHTML;

/**
 * What the page holds while signed in, in memory only.
 * @type {{ accessToken: string, refreshToken: string | null, expiresAt: number, tenantId: string } | null}
 */
let session = null;
/** @type {DashboardSocket | null} */
let socket = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer;
let disconnectedOnce = false;
const conflator = createConflator();
const syncs = createSyncsTile({ conflator, get: getJson });
const backups = createBackupsTile({ conflator });

// ---------------------------------------------------------------------------------------------
// Charts

/** @type {Map<string, { plot: import('uplot'), data: number[][], container: HTMLElement }>} */
const charts = new Map();
const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    for (const chart of charts.values()) {
      if (chart.container === entry.target) chart.plot.setSize({ width: Math.max(entry.contentRect.width, 200), height: CHART_HEIGHT });
    }
  }
});

/**
 * A time-series chart in `container` with the given series (after the time axis).
 * @param {string} name
 * @param {HTMLElement} container
 * @param {import('uplot').Series[]} series
 * @param {{ bands?: import('uplot').Band[], yLabel: string }} options
 */
function chartFor(name, container, series, options) {
  const existing = charts.get(name);
  if (existing) return existing;
  /** @type {number[][]} */
  const data = [[], ...series.map(() => [])];
  const plot = new uPlot(
    {
      width: Math.max(container.clientWidth, 200),
      height: CHART_HEIGHT,
      series: [{ label: 'Time', value: (_u, v) => (v == null ? '–' : formatLocalTime(v * 1000)) }, ...series],
      axes: [{}, { label: options.yLabel, size: 56 }],
      // At least the last minute on the time axis, so a young chart is not stretched over seconds. Taken from the
      // data itself: with a single point uPlot's own padding spans years.
      scales: {
        x: {
          time: true,
          range: (u) => {
            const times = u.data[0];
            const last = times.length > 0 ? Number(times[times.length - 1]) : Date.now() / 1000;
            const first = times.length > 0 ? Number(times[0]) : last;
            return [Math.min(first, last - 60), last + 1];
          },
        },
      },
      // The legend names the series (with their line styles); the tile's figures give the numbers.
      legend: { show: true, live: false },
      ...(options.bands ? { bands: options.bands } : {}),
    },
    /** @type {import('uplot').AlignedData} */ (/** @type {unknown} */ (data)),
    container,
  );
  const chart = { plot, data, container };
  charts.set(name, chart);
  resizer.observe(container);
  return chart;
}

/** @param {{ plot: import('uplot'), data: number[][], container: HTMLElement }} chart */
function redraw(chart) {
  chart.plot.setData(/** @type {import('uplot').AlignedData} */ (/** @type {unknown} */ (chart.data)));
  chart.container.dataset.points = String(chart.data[0]?.length ?? 0);
}

/**
 * @param {string} label
 * @param {string} stroke
 * @param {string} unit
 * @param {number[]} [dash]
 * @returns {import('uplot').Series}
 */
const line = (label, stroke, unit, dash) => ({
  label,
  stroke,
  width: 2,
  ...(dash ? { dash } : {}),
  value: (_u, v) => (v == null ? '–' : `${formatCount(v)} ${unit}`),
});

// ---------------------------------------------------------------------------------------------
// Tiles

/** @param {HTMLElement} tile */
const markHasData = (tile) => {
  tile.querySelector(':scope > .empty')?.setAttribute('hidden', '');
  tile.dataset.hasData = 'true';
};

/** @param {DashboardMetrics} metrics */
function applyMetrics(metrics) {
  const at = Date.parse(metrics.at) / 1000;
  ui.lastUpdate.textContent = `Last update ${formatLocalTime(metrics.at)}`;

  conflator.schedule('connected-users', () => {
    const tile = byId('tile-connected-users', HTMLElement);
    const value = find(tile, '[data-value]');
    value.textContent = formatWithUnit(metrics.connectedUsers, 'user', 'users');
    value.hidden = false;
    markHasData(tile);
  });

  const events = chartFor('events', find(byId('tile-events', HTMLElement), '[data-chart]'), [line('Events in the last minute', '#2457c5', 'events/min')], { yLabel: 'events/min' });
  appendRow(events.data, [at, metrics.eventsLastMinute], CHART_POINTS);
  conflator.schedule('events', () => {
    const tile = byId('tile-events', HTMLElement);
    find(tile, '[data-value="per-minute"]').textContent = formatWithUnit(metrics.eventsLastMinute, 'event', 'events');
    find(tile, '[data-value="today"]').textContent = formatWithUnit(metrics.eventsToday, 'event', 'events');
    find(tile, '.figures').hidden = false;
    markHasData(tile);
    redraw(events);
  });

  conflator.schedule('latest-events', () => paintLatest(metrics.latestEvents ?? []));
  conflator.schedule('campaigns', () => paintCampaigns(metrics.campaigns ?? []));
  conflator.schedule('feeds', () => paintFeeds(metrics.feeds));
  backups.show(metrics.backups);

  for (const [name, counts] of Object.entries(metrics.queues)) {
    const tile = queueTile(name);
    const chart = chartFor(`queue:${name}`, find(tile, '[data-chart]'), [
      line('Waiting', '#2457c5', 'jobs'),
      line('Active', '#1d7a3e', 'jobs', [8, 4]),
      line('Delayed', '#a15c00', 'jobs', [2, 4]),
      line('Failed', '#b3261e', 'jobs', [12, 4, 2, 4]),
    ], { yLabel: 'jobs' });
    appendRow(chart.data, [at, counts.waiting, counts.active, counts.delayed, counts.failed], CHART_POINTS);
    conflator.schedule(`queue:${name}`, () => {
      for (const state of /** @type {const} */ (['waiting', 'active', 'delayed', 'failed'])) {
        find(tile, `[data-value="${state}"]`).textContent = formatWithUnit(counts[state], 'job', 'jobs');
      }
      find(tile, '[data-value="failed"]').toggleAttribute('data-alert', counts.failed > 0);
      markHasData(tile);
      redraw(chart);
    });
  }
}

/** @param {DashboardMetrics['latestEvents']} events */
function paintLatest(events) {
  const tile = byId('tile-latest', HTMLElement);
  const list = find(tile, '[data-list]');
  list.replaceChildren(
    ...events.map((event) =>
      el('li', { attrs: { 'data-event-id': event.id } }, [
        el('span', { className: 'what' }, [el('span', { className: 'type', text: event.type }), el('span', { className: 'user', text: `user ${event.userId}` })]),
        el('time', { text: formatLocalTime(event.occurredAt), attrs: { datetime: event.occurredAt, title: new Date(event.occurredAt).toLocaleString() } }),
      ]),
    ),
  );
  find(tile, '.empty').hidden = events.length > 0;
  tile.dataset.hasData = String(events.length > 0);
}

/** @param {DashboardMetrics['campaigns']} campaigns */
function paintCampaigns(campaigns) {
  const tile = byId('tile-campaigns', HTMLElement);
  const list = find(tile, '[data-list]');
  list.replaceChildren(
    ...campaigns.flatMap((campaign) => [
      el('h3', { text: `${campaign.name} (${campaign.key})` }),
      campaign.top.length === 0
        ? el('p', { className: 'empty', text: 'No points scored yet.' })
        : el(
            'ol',
            { className: 'leaders', attrs: { 'data-campaign': campaign.key } },
            campaign.top.map((entry) => el('li', {}, [document.createTextNode(`${entry.userId}: `), el('span', { className: 'points', text: formatWithUnit(entry.points, 'point', 'points') })])),
          ),
    ]),
  );
  find(tile, ':scope > .empty').hidden = campaigns.length > 0;
  tile.dataset.hasData = String(campaigns.length > 0);
}

/** @param {DashboardMetrics['feeds']} feeds */
function paintFeeds(feeds) {
  const tile = byId('tile-feeds', HTMLElement);
  find(tile, '[data-figures]').replaceChildren(
    ...describeFeeds(feeds).map((figure) => el('div', {}, [el('span', { text: figure.label }), el('b', { text: figure.value, attrs: { 'data-value': figure.key } })])),
  );
  markHasData(tile);
}

/** @param {string} name */
function queueTile(name) {
  const id = `queue-${name}`;
  const existing = document.getElementById(id);
  if (existing) return existing;
  const group = byId('queues', HTMLElement);
  group.querySelector(':scope > .empty')?.remove();
  const figure = (/** @type {string} */ state, /** @type {string} */ label) =>
    el('div', { className: state }, [el('span', { text: label }), el('b', { text: '–', attrs: { 'data-value': state } })]);
  const tile = el('article', { className: 'tile', attrs: { id, 'data-testid': id } }, [
    el('h3', { text: `Queue “${name}”` }),
    el('p', { className: 'empty', text: 'No data yet.' }),
    el('div', { className: 'queue-figures' }, [figure('waiting', 'Waiting'), figure('active', 'Active'), figure('delayed', 'Delayed'), figure('failed', 'Failed')]),
    el('div', { className: 'chart', attrs: { 'data-chart': '' } }),
  ]);
  const tiles = [...group.children, tile].sort((a, b) => a.id.localeCompare(b.id));
  group.replaceChildren(...tiles);
  return tile;
}

/** @param {string} key */
const signalTileId = (key) => `signal-${key}`;

/** @param {FusedSignal} signal */
function applySignal(signal) {
  // User-scoped signals go to their users; the dashboard shows tenant-wide ones.
  if (signal.userId) return;
  const tile = signalTile(signal.key);
  const chart = chartFor(`signal:${signal.key}`, find(tile, '[data-chart]'), [
    { ...line('Fused value', '#2457c5', signal.unit ?? ''), value: (_u, v) => (v == null ? '–' : formatMeasurement(v, null, signal.unit)) },
    { label: '95 % low', stroke: '#8aa4d6', width: 1, dash: [4, 4], value: (_u, v) => (v == null ? '–' : formatMeasurement(v, null, signal.unit)) },
    { label: '95 % high', stroke: '#8aa4d6', width: 1, dash: [4, 4], value: (_u, v) => (v == null ? '–' : formatMeasurement(v, null, signal.unit)) },
  ], { yLabel: signal.unit ?? 'value', bands: [{ series: [3, 2], fill: 'rgba(36, 87, 197, 0.12)' }] });
  const at = Date.parse(signal.computedAt) / 1000;
  const xs = chart.data[0] ?? [];
  const last = xs.at(-1);
  const row = [at, signal.value, signal.ci95[0], signal.ci95[1]];
  // uPlot needs increasing times: a result no newer than the last point replaces it.
  if (last !== undefined && at <= last) chart.data.forEach((column, i) => (column[column.length - 1] = /** @type {number} */ (row[i])));
  else appendRow(chart.data, row, CHART_POINTS);
  conflator.schedule(`signal:${signal.key}`, () => paintSignal(tile, signal, chart));
}

/** @param {string} key */
function signalTile(key) {
  const id = signalTileId(key);
  const existing = document.getElementById(id);
  if (existing) return existing;
  const group = byId('signals', HTMLElement);
  group.querySelector(':scope > .empty')?.remove();
  const tile = el('article', { className: 'tile', attrs: { id, 'data-testid': id, 'data-key': key } }, [
    el('h3', { text: `Signal “${key}”` }),
    el('p', { className: 'empty', text: 'No fused value yet.' }),
    el('p', { className: 'signal-value', attrs: { 'data-value': '' } }),
    el('p', { className: 'signal-meta', attrs: { 'data-meta': '' } }),
    el('div', { className: 'chart', attrs: { 'data-chart': '' } }),
    el('h4', { className: 'caption', text: 'Sources and their share of the fused value' }),
    el('ul', { className: 'sources', attrs: { 'data-sources': '' } }),
  ]);
  const tiles = [...group.children, tile].sort((a, b) => a.id.localeCompare(b.id));
  group.replaceChildren(...tiles);
  return tile;
}

/**
 * @param {HTMLElement} tile
 * @param {FusedSignal} signal
 * @param {{ plot: import('uplot'), data: number[][], container: HTMLElement }} chart
 */
function paintSignal(tile, signal, chart) {
  find(tile, '[data-value]').textContent = formatMeasurement(signal.value, signal.sigma, signal.unit);
  const [lo, hi] = signal.ci95;
  find(tile, '[data-meta]').textContent =
    `95 % interval ${formatInterval(lo, hi, signal.sigma, signal.unit)} · ${signal.method.replace(/_/g, ' ')} · fused at ${formatLocalTime(signal.computedAt)}`;
  const sources = [...signal.inputs].sort((a, b) => b.contributionPct - a.contributionPct || a.source.localeCompare(b.source));
  find(tile, '[data-sources]').replaceChildren(
    ...sources.map((input) => {
      const bar = el('span');
      bar.style.width = `${input.excluded ? 0 : Math.min(100, Math.max(0, input.contributionPct))}%`;
      const pct = formatPercent(input.excluded ? 0 : input.contributionPct);
      const item = el('li', { className: input.excluded ? 'excluded' : '', attrs: { 'data-source': input.source, 'data-contribution': String(input.contributionPct) } }, [
        el('span', { className: 'name', text: input.source }),
        el('span', { className: 'bar', attrs: { role: 'img', 'aria-label': `${input.source}: ${pct} of the fused value` } }, [bar]),
        el('span', { className: 'pct', text: pct }),
        el('span', { className: 'detail', text: `reading ${formatMeasurement(input.value, input.sigma, signal.unit)}, ${formatAge(input.ageSeconds)}` }),
      ]);
      if (input.excluded) item.append(el('span', { className: 'reason', text: describeExclusion(input.excluded), attrs: { 'data-excluded': input.excluded } }));
      return item;
    }),
  );
  markHasData(tile);
  redraw(chart);
}

// ---------------------------------------------------------------------------------------------
// Session

/**
 * @param {'live' | 'reconnecting' | 'offline'} state
 * @param {string} text
 */
function setConnection(state, text) {
  ui.connection.dataset.state = state;
  const symbol = state === 'live' ? '●' : state === 'reconnecting' ? '◌' : '○';
  ui.connection.textContent = `${symbol} ${text}`;
}

/** @param {string} message */
function showSignInError(message) {
  ui.signInError.textContent = message;
  ui.signInError.hidden = false;
}

/**
 * A response's JSON body, typed by the caller (the hub's contracts).
 * @template T
 * @param {Response} response
 * @returns {Promise<T>}
 */
async function bodyOf(response) {
  /** @type {unknown} */
  const body = await response.json();
  return /** @type {T} */ (body);
}

/**
 * @param {Response} response
 * @returns {Promise<{ title?: string, detail?: string } | undefined>}
 */
async function problemOf(response) {
  try {
    return await bodyOf(response);
  } catch {
    return undefined;
  }
}

/**
 * @param {string} path
 * @param {unknown} body
 * @param {string} [bearer]
 */
const postJson = (path, body, bearer) =>
  fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });

/** @param {SubmitEvent} event */
async function onSignIn(event) {
  event.preventDefault();
  ui.signInError.hidden = true;
  ui.signInNotice.hidden = true;
  const credential = ui.credential.value.trim();
  // The field is cleared at once: the credential lives only in this function's scope.
  ui.credential.value = '';
  const kind = credentialKind(credential);
  if (kind === 'empty') return showSignInError('Enter the tenant API key or an admin access token.');
  ui.signInButton.disabled = true;
  try {
    if (kind === 'apiKey') {
      const response = await postJson('/api/v1/tokens', { userId: DASHBOARD_USER, role: 'admin' }, credential);
      if (response.status !== 201) return showSignInError(signInError(response.status, await problemOf(response)));
      /** @type {TokenPair} */
      const pair = await bodyOf(response);
      start(pair.accessToken, pair.refreshToken, pair.expiresIn);
    } else {
      const claims = readTokenClaims(credential);
      if (!claims?.exp || !claims.tid) return showSignInError('That access token could not be read. Paste the whole token, or use the API key.');
      if (claims.role !== 'admin') return showSignInError("That access token is not an admin's: the dashboard is for tenant admins.");
      const expiresIn = claims.exp - Date.now() / 1000;
      if (expiresIn <= 0) return showSignInError('That access token has expired. Mint a new one, or use the API key.');
      start(credential, null, expiresIn);
    }
  } catch (error) {
    showSignInError(`Could not reach the hub: ${error instanceof Error ? error.message : String(error)}.`);
  } finally {
    ui.signInButton.disabled = false;
  }
}

/**
 * @param {string} accessToken
 * @param {string | null} refreshToken
 * @param {number} expiresIn seconds
 */
function start(accessToken, refreshToken, expiresIn) {
  const claims = readTokenClaims(accessToken);
  session = { accessToken, refreshToken, expiresAt: Date.now() + expiresIn * 1000, tenantId: claims?.tid ?? 'unknown' };
  ui.tenant.textContent = `Tenant ${session.tenantId}`;
  ui.tenant.title = refreshToken ? 'Signed in with an admin token minted from the API key' : `Signed in with an access token until ${formatLocalTime(session.expiresAt)}`;
  ui.signIn.hidden = true;
  ui.session.hidden = false;
  ui.board.hidden = false;
  scheduleRefresh(expiresIn);
  connect(accessToken);
  void loadSignals();
  void syncs.load();
}

/** @param {number} expiresIn seconds */
function scheduleRefresh(expiresIn) {
  clearTimeout(refreshTimer);
  if (!session) return;
  // Without a refresh token (signed in with an access token) the session ends with the token.
  refreshTimer = session.refreshToken
    ? setTimeout(() => void refresh(), refreshDelayMs(expiresIn))
    : setTimeout(() => endSession('The access token expired: sign in again.'), Math.max(expiresIn * 1000, 0));
}

/** Rotates the refresh token and hands the new access token to the socket. */
async function refresh() {
  const current = session;
  if (!current?.refreshToken) return;
  try {
    const response = await postJson('/api/v1/tokens/refresh', { refreshToken: current.refreshToken });
    if (session !== current) return;
    if (response.status !== 200) {
      const problem = await problemOf(response);
      return endSession(`Your session ended (${problem?.detail ?? `refresh answered ${response.status}`}): sign in again.`);
    }
    /** @type {TokenPair} */
    const pair = await bodyOf(response);
    current.accessToken = pair.accessToken;
    current.refreshToken = pair.refreshToken;
    current.expiresAt = Date.now() + pair.expiresIn * 1000;
    scheduleRefresh(pair.expiresIn);
    if (!socket) return;
    // A reconnection hands the server the newest token; a live socket is told at once.
    socket.auth = { token: pair.accessToken };
    if (socket.connected) {
      socket.emit('auth:refresh', { token: pair.accessToken }, (ack) => {
        if (!ack.ok) setConnection('reconnecting', `Token refresh refused (${ack.error.message})`);
      });
    } else if (!socket.active) socket.connect();
  } catch {
    // The hub is unreachable: try again shortly, while the current token still lives.
    if (session === current) refreshTimer = setTimeout(() => void refresh(), 5_000);
  }
}

/** @param {string} token */
function connect(token) {
  /** @type {DashboardSocket} */
  const client = io({ auth: { token }, reconnectionDelayMax: 5_000 });
  socket = client;
  setConnection('reconnecting', 'Connecting…');
  client.on('connect', () => {
    setConnection('live', 'Live');
    client.emit('subscribe', { room: 'dashboard' }, (ack) => {
      if (ack.ok) return;
      if (ack.error.code === 'forbidden') endSession("This sign-in may not open the dashboard: it is not an admin's.");
      else setConnection('reconnecting', `Could not join the dashboard (${ack.error.message})`);
    });
    // After a disconnection: the next metrics tick refreshes every metric tile; signals and connections reload once.
    if (disconnectedOnce) {
      void loadSignals();
      void syncs.load();
    }
  });
  client.on('disconnect', (reason) => {
    if (socket !== client || reason === 'io client disconnect') return;
    disconnectedOnce = true;
    setConnection('reconnecting', 'Disconnected: reconnecting…');
    // The server ended the socket (not the network): Socket.IO does not retry that by itself. A
    // revoked or expired sign-in is refused at the handshake, which ends the session below.
    if (!client.active) {
      setTimeout(() => {
        if (socket === client && !client.connected) client.connect();
      }, 1_000);
    }
  });
  client.io.on('reconnect_attempt', (attempt) => {
    if (socket === client) setConnection('reconnecting', `Reconnecting (attempt ${attempt})…`);
  });
  client.on('connect_error', (error) => {
    if (socket !== client) return;
    const code = /** @type {{ data?: ConnectErrorData }} */ (/** @type {unknown} */ (error)).data?.code;
    if (client.active) return setConnection('reconnecting', 'Hub unreachable: reconnecting…');
    // The hub refused the handshake: the socket does not retry by itself.
    if (code === 'token_expired' && session?.refreshToken) return void refresh();
    if (code === 'unauthorized' || code === 'session_revoked' || code === 'token_expired') return endSession('The hub no longer accepts this sign-in: sign in again.');
    setConnection('offline', code === 'too_many_sockets' ? 'Refused: too many open sockets for this user' : `Refused (${code ?? error.message}): retrying soon`);
    setTimeout(() => {
      if (socket === client && !client.connected) client.connect();
    }, 5_000);
  });
  client.on('dashboard:metrics', (metrics) => {
    if (socket === client) applyMetrics(metrics);
  });
  client.on('signal:fused', (signal) => {
    if (socket === client) applySignal(signal);
  });
  client.on('sync:progress', (progress) => {
    if (socket === client) syncs.onProgress(progress);
  });
  client.on('backup:status', (status) => {
    if (socket === client) backups.show(status);
  });
  client.on('session:expired', ({ reason }) => {
    if (socket === client) endSession(reason === 'session_revoked' ? 'This sign-in was revoked: sign in again.' : 'The session expired: sign in again.');
  });
}

/** The tenant's fused signals, once (at sign-in and after a reconnection); then `signal:fused` keeps them current. */
async function loadSignals() {
  try {
    const answer = await getJson('/api/v1/signals');
    if (answer?.status !== 200) return;
    const { signals } = /** @type {{ signals: FusedSignal[] }} */ (answer.body);
    for (const signal of signals) applySignal(signal);
  } catch {
    // The live `signal:fused` events still fill the tiles.
  }
}

/**
 * A GET of the REST API with the session's token: the status and the JSON body (of a 2xx answer),
 * or undefined when there is no session or it ended while the request ran.
 * @param {string} path
 * @returns {Promise<{ status: number, body: unknown } | undefined>}
 */
async function getJson(path) {
  const current = session;
  if (!current) return undefined;
  const response = await fetch(path, { headers: { authorization: `Bearer ${current.accessToken}` } });
  /** @type {unknown} */
  const body = response.ok ? await bodyOf(response) : undefined;
  return session === current ? { status: response.status, body } : undefined;
}

/** @param {string} notice */
function endSession(notice) {
  clearTimeout(refreshTimer);
  const client = socket;
  socket = null;
  session = null;
  disconnectedOnce = false;
  client?.disconnect();
  conflator.clear();
  syncs.clear();
  backups.clear();
  resizer.disconnect();
  for (const chart of charts.values()) chart.plot.destroy();
  charts.clear();
  ui.board.innerHTML = emptyBoard;
  ui.board.hidden = true;
  ui.session.hidden = true;
  setConnection('offline', 'Not connected');
  ui.lastUpdate.textContent = 'No update received yet.';
  ui.signIn.hidden = false;
  ui.signInNotice.textContent = notice;
  ui.signInNotice.hidden = false;
  ui.credential.focus();
}

async function signOut() {
  const refreshToken = session?.refreshToken;
  ui.signOut.disabled = true;
  try {
    if (refreshToken) await postJson('/api/v1/tokens/revoke', { refreshToken });
  } catch {
    // Signed out here either way; the token expires on its own.
  } finally {
    ui.signOut.disabled = false;
    endSession('Signed out.');
  }
}

ui.form.addEventListener('submit', (event) => void onSignIn(event));
ui.signOut.addEventListener('click', () => void signOut());
setConnection('offline', 'Not connected');
document.documentElement.dataset.ready = 'true';
