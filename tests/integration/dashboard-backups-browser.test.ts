import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupStatus } from '../../src/contracts/backups.js';
import { BackupStatusStore } from '../../src/repositories/backup-status.js';
import { createTenant } from '../../src/repositories/tenants.js';
import { publishBackupStatus, PublishedBackupStatusStore } from '../../src/services/backup-status-events.js';
import { mintTokens } from '../support/api-client.js';
import { launchChromium } from '../support/chromium.js';
import { projectRoot } from '../support/pulse-process.js';
import { connected, openSocket } from '../support/socket-client.js';
import { silentLogger } from '../support/silent-logger.js';
import { useTenantHub } from '../support/tenant-hub.js';

/**
 * Issue I, "Visibility": the backup status the worker stores in Redis, on a real hub (role `all`)
 * in a real browser (Debian Chromium): the dashboard's Backups tile, its live flip on
 * `backup:status` (to every tenant's dashboard), and the /metrics gauges.
 */

/** Screenshots go here (gitignored). */
const OUTPUT_DIR = path.join(projectRoot, 'tests/output');

/** The page's globals the test reads (this project's type-check has no DOM library). */
type Marked = { backupsTestMarker?: string };

describe('the Backups tile and backup metrics (I)', { timeout: 120_000 }, () => {
  const fixture = useTenantHub('dashboard-backups', { role: 'all' });
  let browser: Browser;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
    await mkdir(OUTPUT_DIR, { recursive: true });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
  const scrape = async () => (await fetch(`${fixture.hub.url}/metrics`)).text();
  /** The sample of an unlabelled gauge, or undefined when it has none. */
  const sample = (metrics: string, name: string) => {
    const line = metrics.split('\n').find((row) => row.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };

  async function openDashboard(): Promise<Page> {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    expect((await page.goto(`${fixture.hub.url}/dashboard`))?.status()).toBe(200);
    await page.waitForSelector('html[data-ready="true"]');
    await page.fill('#credential', fixture.tenant.apiKey);
    await page.click('#sign-in-button');
    await page.locator('#board').waitFor({ state: 'visible' });
    return page;
  }

  it('shows the stored status, flips to failed live on backup:status (every tenant), and /metrics has the gauges', async () => {
    const { hub } = fixture;
    const prefix = hub.config.REDIS_PREFIX;

    // Before any backup the gauges are declared but carry no sample: absent, not a misleading 0.
    const before = await scrape();
    expect(before).toContain('# TYPE pulse_backup_last_result gauge');
    for (const name of ['pulse_backup_last_result', 'pulse_backup_last_success_timestamp_seconds', 'pulse_backup_last_size_bytes']) expect(sample(before, name)).toBeUndefined();

    const verified: BackupStatus = {
      lastBackupAt: hoursAgo(3),
      lastBackupFile: 'pulse-hub-20260310T090000Z.dump',
      lastBackupBytes: 3_565_158,
      lastVerifiedAt: hoursAgo(2.95),
      lastVerificationMs: 4_200,
      lastResult: 'verified',
      lastReason: null,
      lastFinishedAt: hoursAgo(2.95),
      nextRunAt: new Date(Date.now() + 5 * 3_600_000).toISOString(),
    };
    await new BackupStatusStore(hub.context.redis, prefix).update(verified);

    const page = await openDashboard();
    const tile = page.locator('[data-testid="backups"]');
    const figure = (name: string) => tile.locator(`[data-value="${name}"]`).innerText();
    await expect.poll(() => figure('result'), { timeout: 10_000 }).toBe('Verified');
    expect(await tile.getAttribute('data-result')).toBe('verified');
    expect(await tile.getAttribute('data-stale')).toBeNull();
    expect(await figure('last-backup')).toMatch(/ · 3\.4 MiB$/);
    expect(await figure('age')).toBe('3 h ago');
    expect(await figure('last-verified')).toMatch(/ · restore checked in 4\.2 s$/);
    expect(await figure('next-run')).toMatch(/\(in [45] h \d\d min\)$/);
    expect(await tile.locator('[data-alert-text]').isHidden()).toBe(true);
    await tile.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-backups-verified.png') });

    const metrics = await scrape();
    expect(sample(metrics, 'pulse_backup_last_success_timestamp_seconds')).toBe(Date.parse(verified.lastBackupAt!) / 1000);
    expect(sample(metrics, 'pulse_backup_last_verified_timestamp_seconds')).toBe(Date.parse(verified.lastVerifiedAt!) / 1000);
    expect(sample(metrics, 'pulse_backup_last_size_bytes')).toBe(3_565_158);
    expect(sample(metrics, 'pulse_backup_last_verification_duration_seconds')).toBe(4.2);
    expect(sample(metrics, 'pulse_backup_last_result')).toBe(1);

    // Another tenant's admin, subscribed to its own dashboard: backups are the deployment's news.
    const other = await createTenant(hub.context.database.db, { name: 'dashboard-backups-other', actor: 'test' });
    const otherAdmin = openSocket(hub.url, (await mintTokens(hub.url, other.apiKey, { userId: 'other-admin', role: 'admin' })).accessToken);
    fixture.sockets.push(otherAdmin);
    await connected(otherAdmin);
    expect(await otherAdmin.emitWithAck('subscribe', { room: 'dashboard' })).toMatchObject({ ok: true });
    const otherSeen = new Promise<BackupStatus>((resolve) => otherAdmin.once('backup:status', resolve));

    // The event alone (Redis still holds the verified run): the tile flips without a reload and
    // stays flipped, though each metrics tick still carries the older stored run.
    await page.evaluate(() => void ((globalThis as Marked).backupsTestMarker = 'same page'));
    const reason = 'verification failed: row counts differ (events 120 in the source, 119 restored)';
    const failed: BackupStatus = { ...verified, lastResult: 'failed', lastReason: reason, lastFinishedAt: new Date().toISOString() };
    await publishBackupStatus(hub.context.queues, failed);
    await expect.poll(() => figure('result'), { timeout: 10_000 }).toBe('Failed');
    expect(await tile.getAttribute('data-result')).toBe('failed');
    expect(await tile.locator('[data-alert-text]').innerText()).toBe(`The last backup run failed: ${reason}.`);
    expect(await tile.locator('[data-value="result"][data-alert]').count()).toBe(1);
    expect(await otherSeen).toEqual(failed);
    await page.waitForTimeout(2_500);
    expect(await figure('result')).toBe('Failed');
    expect(await page.evaluate(() => (globalThis as Marked).backupsTestMarker)).toBe('same page');
    await tile.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-backups-failed.png') });

    // The worker's way: the store that publishes what it stores. A newer verified run, overdue by now.
    const store = new PublishedBackupStatusStore(hub.context.redis, prefix, hub.context.queues, silentLogger());
    await store.update({ lastBackupAt: hoursAgo(30), lastResult: 'verified', lastReason: null, lastVerifiedAt: hoursAgo(29.9), lastVerificationMs: 900, lastFinishedAt: new Date().toISOString() });
    await expect.poll(() => figure('result'), { timeout: 10_000 }).toBe('Verified');
    expect(await figure('age')).toBe('30 h ago');
    expect(await tile.getAttribute('data-stale')).toBe('');
    expect(await tile.locator('[data-value="age"][data-alert]').count()).toBe(1);
    expect(await tile.locator('[data-alert-text]').isHidden()).toBe(true);
    const after = await scrape();
    expect(sample(after, 'pulse_backup_last_result')).toBe(1);
    expect(sample(after, 'pulse_backup_last_verification_duration_seconds')).toBe(0.9);
    expect(await page.evaluate(() => (globalThis as Marked).backupsTestMarker)).toBe('same page');
  });

  it('sends a failed run to /metrics as 0', async () => {
    const { hub } = fixture;
    await new BackupStatusStore(hub.context.redis, hub.config.REDIS_PREFIX).update({ lastResult: 'failed', lastReason: 'pg_dump exited with 1', lastFinishedAt: new Date().toISOString() });
    expect(sample(await scrape(), 'pulse_backup_last_result')).toBe(0);
  });
});
