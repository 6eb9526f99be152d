import client from 'prom-client';
import type { BackupStatus } from '../contracts/backups.js';
import type { BackupStatusStore } from '../repositories/backup-status.js';

const seconds = (iso: string | null) => (iso === null ? null : Date.parse(iso) / 1000);

/** Each gauge and how it reads the status; null leaves the gauge without a sample (nothing to report yet). */
const gauges: { name: string; help: string; value: (status: BackupStatus) => number | null }[] = [
  {
    name: 'pulse_backup_last_success_timestamp_seconds',
    help: 'When the last backup whose dump and manifest were written was taken (Unix seconds)',
    value: (status) => seconds(status.lastBackupAt),
  },
  {
    name: 'pulse_backup_last_verified_timestamp_seconds',
    help: 'When the last backup that a restore proved was verified (Unix seconds)',
    value: (status) => seconds(status.lastVerifiedAt),
  },
  { name: 'pulse_backup_last_size_bytes', help: 'Size of the last backup written', value: (status) => status.lastBackupBytes },
  {
    name: 'pulse_backup_last_verification_duration_seconds',
    help: 'How long the last successful verification (restore into a scratch database and checks) took',
    value: (status) => (status.lastVerificationMs === null ? null : status.lastVerificationMs / 1000),
  },
  {
    name: 'pulse_backup_last_result',
    help: 'How the latest backup run ended: 1 verified, 0 failed (verification failed or no backup could be made)',
    value: (status) => (status.lastResult === null ? null : status.lastResult === 'verified' ? 1 : 0),
  },
];

/**
 * The backup gauges, read at scrape time from the status the worker stores in Redis after each
 * run (backups run in a worker process, which serves no /metrics). One read serves every gauge of
 * a scrape: prom-client collects them together, and they then describe the same run.
 */
export function registerBackupGauges(registry: client.Registry, store: Pick<BackupStatusStore, 'read'>): void {
  let reading: Promise<BackupStatus> | undefined;
  const read = () =>
    (reading ??= store.read().finally(() => {
      reading = undefined;
    }));
  for (const gauge of gauges) {
    new client.Gauge({
      name: gauge.name,
      help: gauge.help,
      registers: [registry],
      async collect() {
        const value = gauge.value(await read());
        if (value === null) this.remove();
        else this.set(value);
      },
    });
  }
}
