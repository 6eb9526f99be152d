// @ts-check
/**
 * The Backups tile: the deployment's latest backup (every tenant's dashboard shows the same). Each
 * `dashboard:metrics` tick carries the stored status, which also moves the age and the countdown
 * on; `backup:status` brings a run's end at once. Whichever is about the later run is kept.
 */
import { el, find } from './dom.js';
import { describeBackups, newerBackupStatus } from './format.js';

/** @typedef {import('./types.js').BackupStatus} BackupStatus */

const TILE = 'backups';

/** @param {{ conflator: import('./format.js').Conflator }} deps */
export function createBackupsTile({ conflator }) {
  /** @type {BackupStatus | null} */
  let held = null;

  /** @param {BackupStatus} status */
  function show(status) {
    held = newerBackupStatus(held, status);
    conflator.schedule(TILE, paint);
  }

  function paint() {
    const tile = document.getElementById('tile-backups');
    if (!tile || !held) return;
    const model = describeBackups(held, Date.now());
    tile.dataset.result = model.result;
    tile.toggleAttribute('data-stale', model.stale);
    find(tile, '[data-figures]').replaceChildren(
      field('Latest run', model.resultLabel, 'result', model.result === 'failed'),
      field('Last backup', model.lastBackup, 'last-backup'),
      field('Age', model.age, 'age', model.stale),
      field('Last verified', model.lastVerified, 'last-verified'),
      field('Next run', model.nextRun, 'next-run'),
    );
    const alert = find(tile, '[data-alert-text]');
    alert.textContent = model.alertText ?? '';
    alert.hidden = model.alertText === null;
    find(tile, ':scope > .empty').hidden = true;
    tile.dataset.hasData = 'true';
  }

  /** Forgets the status (sign-out): the board's markup is restored by the page. */
  function clear() {
    held = null;
  }

  return { show, clear };
}

/**
 * @param {string} label
 * @param {string} value
 * @param {string} name
 * @param {boolean} alert
 */
const field = (label, value, name, alert = false) =>
  el('div', {}, [el('dt', { text: label }), el('dd', { text: value, attrs: { 'data-value': name, ...(alert ? { 'data-alert': '' } : {}) } })]);
