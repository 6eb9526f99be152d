import { mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStalePartials } from '../../src/repositories/backup-manifests.js';

describe('half-written backups', () => {
  it('removes only stale *.dump.partial files a killed backup left, never dumps or a running backup’s file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-partials-'));
    const names = ['pulse-hub-20261201T030000Z.dump.partial', 'pulse-hub-20261203T030000Z.dump.partial', 'pulse-hub-20261201T030000Z.dump', 'notes.partial'];
    for (const name of names) await writeFile(path.join(dir, name), 'x');
    const now = Date.now();
    const twoDaysAgo = new Date(now - 48 * 3_600_000);
    for (const name of [names[0], names[2], names[3]] as string[]) await utimes(path.join(dir, name), twoDaysAgo, twoDaysAgo);

    expect(await removeStalePartials(dir, 24 * 3_600_000, now)).toEqual([names[0]]);
    expect((await readdir(dir)).sort()).toEqual([names[2], names[1], names[3]].sort());
    expect(await removeStalePartials(path.join(dir, 'missing'), 0, now)).toEqual([]);
  });
});
