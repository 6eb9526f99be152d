import { CredentialDecryptError, type CredentialVault } from '../../platform/credential-vault.js';
import type { CredentialKind } from '../../contracts/api/connections.js';
import { ConnectionStore } from '../../repositories/connections.js';
import type { Database } from '../../repositories/db/client.js';
import { credentialContext } from './connections.js';
import { stateContext } from './oauth.js';

export interface RotationProgress {
  /** Sealed values found under another key when the run began. */
  total: number;
  done: number;
}

export interface RotationFailure {
  /** `connection:<id>:<kind>` or `oauth_state:<hash prefix>`. */
  target: string;
  reason: string;
}

export interface RotationReport {
  currentKeyId: string;
  total: number;
  rotated: number;
  /** Changed by someone else between read and write (already under the current key): left alone. */
  skipped: number;
  failed: RotationFailure[];
}

/**
 * Re-seals every stored secret under the vault's current key. Readers accept any key of the
 * ring, so this runs beside live hubs and workers: rows are read in keyset batches and each is
 * rewritten by one compare-and-set statement (its own short transaction, no lock held while
 * encrypting). A secret that does not open is reported, and its connection marked broken.
 */
export async function rotateCredentials(db: Database, vault: CredentialVault, options: { batchSize?: number; onProgress?: (progress: RotationProgress) => void } = {}): Promise<RotationReport> {
  const store = new ConnectionStore(db);
  const batchSize = options.batchSize ?? 100;
  const current = vault.currentKeyId;
  const counts = await store.countSealedWithOtherKeys(current);
  const report: RotationReport = { currentKeyId: current, total: counts.credentials + counts.states, rotated: 0, skipped: 0, failed: [] };
  const step = (outcome: 'rotated' | 'skipped') => {
    report[outcome] += 1;
    options.onProgress?.({ total: report.total, done: report.rotated + report.skipped + report.failed.length });
  };
  const fail = (target: string, error: unknown) => {
    if (!(error instanceof CredentialDecryptError)) throw error;
    report.failed.push({ target, reason: `${error.reason}: ${error.message}` });
    options.onProgress?.({ total: report.total, done: report.rotated + report.skipped + report.failed.length });
  };
  options.onProgress?.({ total: report.total, done: 0 });

  let after: { connectionId: string; kind: CredentialKind } | undefined;
  for (;;) {
    const batch = await store.credentialsWithOtherKeys(current, batchSize, after);
    if (batch.length === 0) break;
    for (const row of batch) {
      after = { connectionId: row.connectionId, kind: row.kind };
      let sealed: string;
      try {
        sealed = vault.reseal(row.sealed, credentialContext(row.connectionId, row.kind));
      } catch (error) {
        fail(`connection:${row.connectionId}:${row.kind}`, error);
        if (error instanceof CredentialDecryptError) await store.recordError(row.connectionId, `credential ${row.kind}: ${error.message}`, 'broken');
        continue;
      }
      step((await store.resealCredential(row, { keyId: current, sealed })) ? 'rotated' : 'skipped');
    }
  }

  let afterHash: string | undefined;
  for (;;) {
    const batch = await store.statesWithOtherKeys(current, batchSize, afterHash);
    if (batch.length === 0) break;
    for (const row of batch) {
      afterHash = row.stateHash;
      if (!row.codeVerifier) continue;
      let sealed: string;
      try {
        sealed = vault.reseal(row.codeVerifier, stateContext(row.stateHash));
      } catch (error) {
        fail(`oauth_state:${row.stateHash.slice(0, 12)}`, error);
        continue;
      }
      step((await store.resealState(row.stateHash, row.codeVerifier, { keyId: current, sealed })) ? 'rotated' : 'skipped');
    }
  }
  return report;
}
