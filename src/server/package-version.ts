import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The app's version, from package.json. Read at run time rather than imported: tsconfig.build.json's
 * rootDir is src/, and the path resolves to the app root both from src/server (tsx) and from
 * dist/server (the image).
 */
export const packageVersion = z
  .object({ version: z.string() })
  .parse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))).version;
