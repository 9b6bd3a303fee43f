// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const IO_MODULES = ['node:*', 'fs', 'path', 'child_process', 'net', 'http', 'https', 'os', 'crypto'];
const scoped = (/** @type {string[]} */ names) =>
  names.flatMap((n) => [`@vaultmesh/${n}`, `@vaultmesh/${n}/*`]);

/**
 * @param {{ files: string[]; forbid: string[]; message: string }[]} layers
 * @returns {import('eslint').Linter.Config[]}
 */
function layerRules(layers) {
  return layers.map((l) => ({
    files: l.files,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: l.forbid, message: l.message }] }],
    },
  }));
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'data/**',
      '**/dist/**',
      'coverage/**',
      'testdata/**',
      'apps/dashboard/public/vendor/**',
      '.tmp/**',
      // Spawn's templates are text with {{placeholders}}; each generated project lints itself (its npm test).
      'packages/spawn/templates/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
        document: 'readonly',
        window: 'readonly',
        localStorage: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // The dashboard: plain browser ES modules served as-is (no build step).
    files: ['apps/dashboard/public/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        atob: 'readonly',
        btoa: 'readonly',
        crypto: 'readonly',
        location: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
  },
  // One rule per layer (docs/architecture.md, checked by test/architecture.test.ts): a layer imports only the layers
  // below it. A later block for the same files replaces an earlier one's no-restricted-imports, so each file
  // pattern appears once.
  ...layerRules([
    {
      // layer 0: leaves
      files: ['packages/types/src/**', 'packages/net/src/**'],
      forbid: ['@vaultmesh/*'],
      message: 'a leaf package imports no workspace package.',
    },
    {
      // layer 1: the pure core
      files: ['packages/ledger/src/**/*.ts'],
      forbid: ['@vaultmesh/*', '!@vaultmesh/types', ...IO_MODULES],
      message: 'packages/ledger is pure: no I/O or node:* imports, and only @vaultmesh/types.',
    },
    {
      // layer 2: services
      files: [
        'packages/{log,auth,attest,policy,control,federation,aurora,interop,psi,spawn,store-sqlite,store-postgres}/src/**',
      ],
      forbid: scoped(['api', 'node', 'server', 'cli']),
      message:
        'a service package never imports the HTTP edge (api), the node assembly or an app (server, cli).',
    },
    {
      // layer 3: the HTTP edge
      files: ['packages/api/src/**'],
      forbid: scoped(['node', 'server', 'cli']),
      message: 'the HTTP edge never imports the node assembly or an app.',
    },
    {
      // layer 4: the node assembly (composition root)
      files: ['packages/node/src/**'],
      forbid: scoped(['server', 'cli']),
      message: 'the node assembly never imports an app.',
    },
    {
      // layer 5: apps, each over the packages only
      files: ['apps/server/src/**'],
      forbid: scoped(['cli']),
      message: 'the server app imports packages only.',
    },
    {
      files: ['packages/cli/src/**'],
      forbid: scoped(['server']),
      message: 'the CLI imports packages only, never an app.',
    },
    {
      files: ['packages/bench/src/**'],
      forbid: scoped(['server', 'cli']),
      message: 'the benchmarks import packages only (the CLI passes its binary in).',
    },
  ]),
);
