/** Types of format.js, for its importers (app.js and the unit tests); format.js is checked on its own JSDoc. */
import type { BackupModel, BackupStatus, ConnectionView, DashboardMetrics, SyncProgress, SyncRowModel } from './types.js';
export declare const REPAINT_INTERVAL_MS: number;
export interface Conflator {
  schedule(tile: string, paint: () => void): void;
  clear(): void;
}
export declare function createConflator(options?: {
  intervalMs?: number;
  now?: () => number;
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}): Conflator;
export declare function appendRow(columns: number[][], row: number[], max: number): number[][];
export declare function formatCount(value: number, locale?: string): string;
export declare function formatWithUnit(value: number, singular: string, plural: string, locale?: string): string;
export declare function decimalsFor(sigma: number | null | undefined): number;
export declare function formatMeasurement(value: number, sigma: number | null | undefined, unit: string | null | undefined, locale?: string): string;
export declare function formatInterval(lo: number, hi: number, sigma: number | null | undefined, unit: string | null | undefined, locale?: string): string;
export declare function formatPercent(pct: number, locale?: string): string;
export declare function formatLocalTime(at: string | number | Date, locale?: string): string;
export declare function formatAge(seconds: number): string;
export declare function formatMs(ms: number, locale?: string): string;
export declare function describeFeeds(feeds: DashboardMetrics['feeds'], locale?: string): { key: string; label: string; value: string }[];
export declare const exclusionReasons: { stale: string; outlier: string };
export declare function describeExclusion(reason: string | undefined | null): string;
export declare function credentialKind(text: string): 'accessToken' | 'apiKey' | 'empty';
export declare function readTokenClaims(token: string): { sub?: string; tid?: string; role?: string; exp?: number } | undefined;
export declare function refreshDelayMs(expiresInSeconds: number): number;
export declare function signInError(status: number, problem: { title?: string; detail?: string } | undefined): string;
export declare const providerLabels: Record<'shopify' | 'stripe' | 'etsy' | 'tiktok_shop', string>;
export declare function providerLabel(provider: string): string;
export declare const syncStateLabels: Record<SyncProgress['state'], string>;
export declare function syncStateLabel(state: string): string;
export declare function formatCountdown(ms: number): string;
export declare function formatSyncFigures(figures: { pages?: number; records: number; events: number; unmatched: number }, locale?: string): string;
export declare const finalSyncStates: string[];
export declare function describeSync(view: ConnectionView | null, progress: SyncProgress | null, now: number, locale?: string): SyncRowModel;
export declare const BACKUP_STALE_HOURS: number;
export declare function formatBytes(bytes: number, locale?: string): string;
export declare function formatLocalDateTime(at: string | number | Date, locale?: string): string;
export declare function newerBackupStatus(held: BackupStatus | null, incoming: BackupStatus): BackupStatus;
export declare function describeBackups(status: BackupStatus, now: number, locale?: string): BackupModel;
