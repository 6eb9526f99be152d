import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const entry = path.join(root, 'src/client/index.ts');
/** What a browser or mobile app pays for the SDK itself (socket.io-client is its one dependency). */
const MAX_BUNDLE_BYTES = 30 * 1024;

/** Every module the SDK's source reaches through imports, type-only ones included (they shape its declarations). */
function importGraph(start: string): Set<string> {
  const seen = new Set<string>();
  const pending = [start];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.startsWith(root)) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*?from\s+'([^']+)'/gm)) {
      const specifier = match[1] as string;
      pending.push(specifier.startsWith('.') ? path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts') : specifier);
    }
  }
  return seen;
}

describe('the client SDK (pulse-hub/client)', () => {
  it('bundles small, from its own files and zod-free contracts only', async () => {
    const result = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', write: false, metafile: true, external: ['socket.io-client'], logLevel: 'silent' });
    const bytes = result.outputFiles[0]?.contents.byteLength ?? Infinity;
    expect(bytes).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
    expect(Object.keys(result.metafile.inputs).sort()).toEqual([
      'src/client/index.ts',
      'src/client/pulse-client.ts',
      'src/client/seq-tracker.ts',
      'src/contracts/socket/update-names.ts',
    ]);
  });

  it('declares its types without reaching the database schema or drizzle', () => {
    const reached = [...importGraph(entry)];
    expect(reached.filter((module) => module.includes('drizzle') || module.includes(`${path.sep}db${path.sep}`))).toEqual([]);
    expect(reached.filter((module) => !module.startsWith(root))).toEqual(expect.arrayContaining(['socket.io-client']));
  });
});
