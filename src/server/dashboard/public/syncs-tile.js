// @ts-check
/**
 * The Syncs tile: one row per integration connection of the tenant. The connections are read over
 * REST (every page, up to a cap) at sign-in, after a reconnection and when a `sync:progress` names
 * a connection the page does not know; one connection is read again when a run of it ends. In
 * between, `sync:progress` keeps the rows live: the figures of a running sync, and a refused
 * credential flagged the moment the worker reports it.
 */
import { el, find } from './dom.js';
import { describeSync, finalSyncStates, formatCount } from './format.js';

/** @typedef {import('./types.js').ConnectionView} ConnectionView */
/** @typedef {import('./types.js').SyncProgress} SyncProgress */
/** @typedef {import('./types.js').SyncRowModel} SyncRowModel */
/** @typedef {{ status: number, body: unknown }} Answer */
/** @typedef {{ view: ConnectionView | null, progress: SyncProgress | null, seq: number }} Row */

const CONNECTIONS = '/api/v1/admin/connections';
const PAGE_LIMIT = 100;
/** A tenant with more connections than this sees the first ones and a note (the tile is an overview). */
const MAX_PAGES = 10;
const TILE = 'syncs';

/**
 * @param {{
 *   conflator: import('./format.js').Conflator,
 *   get: (path: string) => Promise<Answer | undefined>,
 * }} deps `get` answers undefined when the session ended while it ran.
 */
export function createSyncsTile({ conflator, get }) {
  /** @type {Map<string, Row>} */
  const rows = new Map();
  // Orders progress messages and REST reads: a read begun after a progress arrived already reflects
  // it (the worker stores a run's state before it publishes it).
  let seq = 0;
  let loaded = false;
  let loading = false;
  let loadAgain = false;
  /** The last read stopped at the cap: connections past it are read one by one. */
  let capped = false;
  /** @type {string | null} */
  let note = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let ticker;

  const schedule = () => conflator.schedule(TILE, paint);

  /**
   * A connection as read from the API. The row's progress stays on top of it when it arrived after
   * the read began, or when it ended the run this read was made for (so "Completed" or a refused
   * credential shows rather than the row's plain idle or failed state).
   * @param {ConnectionView} view
   * @param {number} readSeq
   * @param {boolean} [afterRunEnded]
   */
  function take(view, readSeq, afterRunEnded = false) {
    const row = rows.get(view.id);
    const progress = row?.progress ?? null;
    const keep = progress !== null && ((row !== undefined && row.seq > readSeq) || (afterRunEnded && finalSyncStates.includes(progress.state)));
    rows.set(view.id, { view, progress: keep ? progress : null, seq: row?.seq ?? 0 });
  }

  async function readAll() {
    const readSeq = ++seq;
    /** @type {ConnectionView[]} */
    const views = [];
    /** @type {string | null} */
    let cursor = null;
    let pages = 0;
    do {
      const answer = await get(`${CONNECTIONS}?limit=${PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (!answer) return;
      if (answer.status !== 200) {
        note = `Could not read the connections: the hub answered ${answer.status}.`;
        return schedule();
      }
      const page = /** @type {{ connections: ConnectionView[], nextCursor: string | null }} */ (answer.body);
      views.push(...page.connections);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < MAX_PAGES);
    const listed = new Set(views.map((view) => view.id));
    // Deleted since the last read: gone, unless a progress newer than this read names the connection.
    for (const [id, row] of rows) if (!listed.has(id) && row.seq <= readSeq) rows.delete(id);
    for (const view of views) take(view, readSeq);
    capped = cursor !== null;
    note = capped ? `Showing the first ${formatCount(views.length)} connections.` : null;
    loaded = true;
    schedule();
  }

  /** Reads every connection; a call while a read runs makes it read once more after (latest wins). */
  async function load() {
    if (loading) {
      loadAgain = true;
      return;
    }
    loading = true;
    try {
      do {
        loadAgain = false;
        await readAll();
      } while (loadAgain);
    } catch {
      note = 'Could not reach the hub to read the connections.';
      schedule();
    } finally {
      loading = false;
    }
  }

  /**
   * @param {string} id
   * @param {boolean} afterRunEnded
   */
  async function reread(id, afterRunEnded) {
    const readSeq = ++seq;
    try {
      const answer = await get(`${CONNECTIONS}/${encodeURIComponent(id)}`);
      if (answer?.status === 404) rows.delete(id);
      else if (answer?.status === 200) take(/** @type {ConnectionView} */ (answer.body), readSeq, afterRunEnded);
      schedule();
    } catch {
      // The progress already showed how the run ended; the next load brings the rest.
    }
  }

  /** @param {SyncProgress} progress */
  function onProgress(progress) {
    const row = rows.get(progress.connectionId);
    // Published in order by one worker; an older message arriving late changes nothing.
    if (row?.progress && Date.parse(row.progress.at) > Date.parse(progress.at)) return;
    rows.set(progress.connectionId, { view: row?.view ?? null, progress, seq: ++seq });
    const ended = finalSyncStates.includes(progress.state);
    if (!row?.view && !capped) void load();
    else if (!row || ended) void reread(progress.connectionId, ended);
    schedule();
  }

  function paint() {
    const tile = document.getElementById('tile-syncs');
    if (!tile) return;
    const now = Date.now();
    const models = [...rows.values()].map((row) => describeSync(row.view, row.progress, now)).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    find(tile, '[data-list]').replaceChildren(...models.map(rowElement));
    find(tile, '[data-loading]').hidden = loaded || models.length > 0 || note !== null;
    find(tile, '[data-none]').hidden = !loaded || models.length > 0;
    const noteElement = find(tile, '[data-note]');
    noteElement.textContent = note ?? '';
    noteElement.hidden = note === null;
    tile.dataset.hasData = String(models.length > 0);
    // Countdowns (rate-limited until, next run) move on their own: repaint each second while one shows.
    if (ticker === undefined && models.some((model) => model.counting)) {
      ticker = setTimeout(() => {
        ticker = undefined;
        schedule();
      }, 1000);
    }
  }

  /** Forgets everything (sign-out): the board's markup is restored by the page. */
  function clear() {
    clearTimeout(ticker);
    ticker = undefined;
    rows.clear();
    loaded = false;
    capped = false;
    note = null;
  }

  return { load, onProgress, clear };
}

/**
 * @param {string} label
 * @param {string} value
 * @param {string} name
 * @param {boolean} [alert]
 */
const field = (label, value, name, alert = false) =>
  el('div', {}, [el('dt', { text: label }), el('dd', { text: value, attrs: { 'data-value': name, ...(alert ? { 'data-alert': '' } : {}) } })]);

/** @param {SyncRowModel} model */
function rowElement(model) {
  const attrs = { 'data-connection-id': model.id, 'data-state': model.state, 'data-status': model.status, 'data-circuit': model.circuit, ...(model.alert ? { 'data-alert': model.alert } : {}) };
  return el('li', { className: 'sync', attrs }, [
    el('div', { className: 'sync-head' }, [
      el('span', { className: 'name', text: model.name }),
      el('span', { className: 'provider', text: model.provider }),
      el('span', { className: 'state', text: model.stateLabel, attrs: { 'data-value': 'state' } }),
    ]),
    ...(model.live ? [el('p', { className: 'live', text: `Now: ${model.live}`, attrs: { 'data-value': 'live' } })] : []),
    el('dl', {}, [
      field('Last run', model.lastRun, 'last-run'),
      field('Next run', model.nextRun, 'next-run'),
      ...(model.rateLimitedUntil ? [field('Rate-limited until', model.rateLimitedUntil, 'rate-limited', true)] : []),
      field('Circuit', model.circuit, 'circuit', model.circuitOpen),
      field('Connection', model.statusLabel, 'status', model.status === 'needs_reauth' || model.status === 'broken'),
    ]),
    ...(model.alertText ? [el('p', { className: 'sync-alert', text: model.alertText, attrs: { 'data-value': 'alert' } })] : []),
  ]);
}
