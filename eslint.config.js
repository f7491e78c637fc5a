// Lint rules that keep the layers of the code apart and its files small (see action/src/README.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

// The release steps, one file each (action/src/steps); none imports another.
const STEP_FILES = ['bake', 'bootstrap', 'cleanup', 'deploy', 'image', 'roll'];

// A layer may import its own folder and the layers below it, never one above.
const layerRule = (message, ...group) => ({
  'no-restricted-imports': ['error', { patterns: [{ group, message }] }],
});

export default tseslint.config(
  {
    ignores: ['action/dist/**', 'packer/files/**', 'docker/viewer/dist/**', 'node_modules/**', 'coverage/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Dependencies are read with the TypeScript parser too, or a cycle through them goes unseen.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['action/src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false }],
      ...layerRule('action/src never imports tests or scripts.', '**/test/**', '**/scripts/**'),
    },
  },
  {
    files: ['action/src/steps/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/test/**', '**/scripts/**', '../commands/**'],
              message: 'Steps sit below commands: move what both need down into aws/, mapfiles/ or the root modules.',
            },
            {
              // A step file is one step; its own helpers (packer.ts, image-smoke.ts, task-definition.ts...) may be imported.
              group: STEP_FILES.map((step) => `./${step}.js`),
              message: 'A step never imports another step: move what both need down into aws/ or the root modules.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['action/src/aws/**/*.ts'],
    rules: layerRule(
      'aws/ holds the helpers steps share: it never imports steps or commands.',
      '**/test/**',
      '**/scripts/**',
      '../commands/**',
      '../steps/**',
    ),
  },
  {
    files: ['action/src/mapfiles/**/*.ts'],
    rules: layerRule(
      'mapfiles/ knows mapfiles only: it never imports steps or commands.',
      '**/test/**',
      '**/scripts/**',
      '../commands/**',
      '../steps/**',
    ),
  },
  {
    files: ['action/src/mirror/**/*.ts'],
    rules: layerRule(
      'The mirror runs on the instances: it never imports the pipeline (steps, commands, aws).',
      '**/test/**',
      '**/scripts/**',
      '../commands/**',
      '../steps/**',
      '../aws/**',
    ),
  },
  {
    files: ['scripts/**/*.ts'],
    rules: layerRule('Scripts are product code: tests import scripts, never the other way round.', '**/test/**'),
  },
);
