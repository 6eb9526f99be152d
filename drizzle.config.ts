import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/repositories/db/schema.ts',
  out: './drizzle',
});
