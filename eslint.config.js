// Lint is part of the test command: a warning here is a failure there.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.serverless/**', '.esbuild/**', 'coverage/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', module: 'writable', require: 'readonly', __dirname: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Stages take their I/O as arguments: no AWS SDK, no pg, no environment.
    files: ['src/stages/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@aws-sdk/*', 'pg', 'pg-copy-streams', '**/aws/**', '**/db/**'] }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Stages take configuration as arguments.' }],
    },
  },
  {
    files: ['infra/**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
