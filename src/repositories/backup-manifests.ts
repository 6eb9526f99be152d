import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';

/**
 * Backup files on disk: each dump `pulse-hub-<UTC stamp>.dump` has a manifest
 * `pulse-hub-<UTC stamp>.manifest.json` beside it, describing what the dump must contain and
 * whether a restore proved it.
 */

const verificationSchema = z.object({
  status: z.enum(['verified', 'failed', 'unverified']),
  reason: z.string().nullable(),
  durationMs: z.number().nullable(),
  verifiedAt: z.iso.datetime().nullable(),
});

export const backupManifestSchema = z.object({
  format: z.literal(1),
  file: z.string(),
  size: z.number().int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.iso.datetime(),
  serverVersion: z.string(),
  pgDumpVersion: z.string(),
  migration: z.object({ tag: z.string().nullable(), hash: z.string(), createdAt: z.number() }).nullable(),
  tables: z.record(z.string(), z.number().int()),
  smoke: z.array(z.object({ tenantId: z.string(), userId: z.string(), seq: z.number(), points: z.number() })),
  verification: verificationSchema,
});

export type BackupManifest = z.infer<typeof backupManifestSchema>;
export type BackupVerification = z.infer<typeof verificationSchema>;

export interface StoredBackup {
  /** Absolute path of the dump. */
  file: string;
  manifestFile: string;
  /** Undefined when the manifest is missing or unreadable (`problem` says why). */
  manifest?: BackupManifest;
  problem?: string;
}

const DUMP_NAME = /^pulse-hub-\d{8}T\d{6}(\d{3})?Z\.dump$/;

/** Names embed the UTC time to the millisecond, so lexical order is chronological. */
export function backupFileName(now: Date): string {
  return `pulse-hub-${now.toISOString().replace(/[-:.]/g, '')}.dump`;
}

export function manifestPathOf(dumpFile: string): string {
  return `${dumpFile.replace(/\.dump$/, '')}.manifest.json`;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

/** Written to a temporary file and renamed into place: a reader never sees half a manifest. */
export async function writeManifest(dumpFile: string, manifest: BackupManifest): Promise<void> {
  await writeFileAtomic(manifestPathOf(dumpFile), `${JSON.stringify(manifest, null, 2)}\n`);
}

export async function readManifest(dumpFile: string): Promise<BackupManifest> {
  const file = manifestPathOf(dumpFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no manifest beside ${dumpFile} (expected ${file})`, { cause: error });
    throw error;
  }
  const parsed = backupManifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`manifest ${file} is not a Pulse Hub backup manifest: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Every dump in `dir` (oldest first) with its manifest, or what is wrong with it. */
export async function listBackups(dir: string): Promise<StoredBackup[]> {
  const names = (await readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error))))
    .filter((name) => DUMP_NAME.test(name))
    .sort();
  return Promise.all(names.map(async (name) => {
    const file = path.join(dir, name);
    try {
      return { file, manifestFile: manifestPathOf(file), manifest: await readManifest(file) };
    } catch (error) {
      return { file, manifestFile: manifestPathOf(file), problem: (error as Error).message };
    }
  }));
}

/** Removes a dump, then its manifest: a crash in between leaves only a manifest, which no listing shows. */
export async function removeBackup(dumpFile: string): Promise<void> {
  await rm(dumpFile, { force: true });
  await rm(manifestPathOf(dumpFile), { force: true });
}

const PARTIAL_NAME = /^pulse-hub-\d{8}T\d{6}(\d{3})?Z\.dump\.partial$/;

/**
 * Removes dumps left half-written by a process killed mid-backup (`*.dump.partial`) once they are
 * older than `olderThanMs`: a younger one may belong to a backup still running elsewhere (the CLI
 * beside the worker). Returns the names removed.
 */
export async function removeStalePartials(dir: string, olderThanMs: number, now = Date.now()): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => PARTIAL_NAME.test(name));
  const removed: string[] = [];
  for (const name of names) {
    const { mtimeMs } = await stat(path.join(dir, name));
    if (now - mtimeMs < olderThanMs) continue;
    await rm(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
