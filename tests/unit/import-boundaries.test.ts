import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

// The project's own config; type-aware rules are off because the linted files are not on disk
// (the project service only knows files that exist), and the boundaries rule needs no types.
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: path.join(root, 'eslint.config.js'),
  overrideConfig: tseslint.configs.disableTypeChecked,
});

/** Lints `source` as if it were the file at `file` (relative to the repository root). */
async function boundaryErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  expect(result?.messages.filter((message) => message.fatal)).toEqual([]);
  return (result?.messages ?? []).filter((message) => message.ruleId?.startsWith('boundaries/')).map((message) => `${message.ruleId}: ${message.message}`);
}

describe('the import-boundary rule (eslint.config.js)', () => {
  it('refuses contracts importing the server', async () => {
    const errors = await boundaryErrors('src/contracts/wrong-way.ts', "import { createApp } from '../server/app.js';\n\nexport const app = createApp;\n");
    expect(errors).toEqual([expect.stringMatching(/^boundaries\/dependencies: .*"contracts".*"server"/)]);
  });

  it('refuses domain rules importing a repository, even for a type only', async () => {
    const errors = await boundaryErrors('src/domain/wrong-way.ts', "import type { Sql } from '../repositories/db/client.js';\n\nexport type Client = Sql;\n");
    expect(errors).toEqual([expect.stringMatching(/^boundaries\/dependencies: .*"domain".*"repositories"/)]);
    const inline = await boundaryErrors('src/domain/wrong-way.ts', "export type Client = import('../repositories/db/client.js').Sql;\n");
    expect(inline).toEqual([expect.stringMatching(/^boundaries\/dependencies: .*"domain".*"repositories"/)]);
  });

  it('refuses the server importing the workers, and the client SDK importing the platform', async () => {
    expect(await boundaryErrors('src/server/wrong-way.ts', "import { buildHandlerRegistry } from '../workers/registry.js';\n\nexport const build = buildHandlerRegistry;\n")).toEqual([
      expect.stringMatching(/^boundaries\/dependencies: .*"server".*"workers"/),
    ]);
    expect(await boundaryErrors('src/client/wrong-way.ts', "export { createLogger } from '../platform/logger.js';\n")).toEqual([
      expect.stringMatching(/^boundaries\/dependencies: .*"client".*"platform"/),
    ]);
  });

  it('refuses a file outside the layers, and an import that reaches none', async () => {
    const errors = await boundaryErrors('src/shared/helpers.ts', 'export const answer = 42;\n');
    expect(errors).toEqual([expect.stringMatching(/^boundaries\/no-unknown-files: /)]);
    const unresolved = await boundaryErrors('src/domain/wrong-way.ts', "import { helper } from '../shared/helpers.js';\n\nexport const h = helper;\n");
    expect(unresolved).toEqual([expect.stringMatching(/^boundaries\/no-unknown-dependencies: /)]);
  });

  it('accepts imports that point down, or stay within a layer', async () => {
    expect(
      await boundaryErrors(
        'src/services/right-way.ts',
        [
          "import type { Sql } from '../repositories/db/client.js';",
          "import { localDay } from '../domain/calendar.js';",
          "import type { Logger } from '../platform/logger.js';",
          "import { openBox } from './box-opening.js';",
          '',
          'export const parts: [Sql | undefined, typeof localDay, Logger | undefined, typeof openBox] = [undefined, localDay, undefined, openBox];',
          '',
        ].join('\n'),
      ),
    ).toEqual([]);
    expect(await boundaryErrors('src/roles/right-way.ts', "export { createApp } from '../server/app.js';\nexport { startWorkerRole } from './worker.js';\n")).toEqual([]);
  });
});
