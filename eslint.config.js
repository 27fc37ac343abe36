import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'coverage/', 'client/dist/', 'client/src/schema.d.ts'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['bench/**', 'test/**', 'src/common/database/migrate.ts', 'src/main.ts'], rules: { 'no-console': 'off' } },
  // Tests read JSON answers whose shape is what they assert.
  { files: ['test/**', '**/*.spec.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
