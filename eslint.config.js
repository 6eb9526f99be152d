import path from 'node:path';
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/ and the directions their imports may take (type-only imports included).
 * Each layer may import itself; anything not listed is refused.
 */
const layers = {
  roles: ['roles', 'server', 'workers', 'services', 'repositories', 'domain', 'contracts', 'platform', 'client'],
  server: ['server', 'services', 'repositories', 'domain', 'contracts', 'platform'],
  workers: ['workers', 'services', 'repositories', 'domain', 'contracts', 'platform'],
  services: ['services', 'repositories', 'domain', 'contracts', 'platform'],
  repositories: ['repositories', 'domain', 'contracts', 'platform'],
  domain: ['domain', 'contracts'],
  platform: ['platform', 'contracts'],
  contracts: ['contracts'],
  client: ['client', 'contracts'],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'drizzle/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/platform/config.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through src/platform/config.ts.' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      // Element patterns are relative to this folder, whatever the working directory.
      'boundaries/root-path': import.meta.dirname,
      'boundaries/elements': Object.keys(layers).map((type) => ({ type, pattern: `src/${type}`, partialMatch: false })),
      // Resolves the `.js` specifiers of NodeNext imports to the `.ts` sources, so every import is classified.
      'import/resolver': { typescript: { project: path.join(import.meta.dirname, 'tsconfig.json') } },
      // Besides import/export declarations and import(): type positions such as `import('../x.js').Y`.
      'boundaries/additional-dependency-nodes': [{ selector: 'TSImportType > Literal.source', kind: 'type', name: 'import-type' }],
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          policies: Object.entries(layers).map(([from, to]) => ({
            from: { element: { type: from } },
            allow: { to: { element: { type: to } } },
          })),
        },
      ],
      // Every file under src/ belongs to a layer, and every local import reaches one.
      'boundaries/no-unknown-files': 'error',
      'boundaries/no-unknown-dependencies': 'error',
    },
  },
  {
    // Asymmetric matchers (expect.any, expect.stringContaining) are typed `any` by design.
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // The dashboard's browser modules: plain JavaScript checked by their own tsconfig (DOM types,
    // checkJs), which also catches undefined names, so no-undef (which knows no browser globals) is off.
    files: ['src/server/dashboard/public/**/*.js'],
    rules: { 'no-undef': 'off' },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
