// ESLint (flat config) with typescript-eslint's type-aware rules, and Prettier
// run as an ESLint rule, so that one command (`npm run lint`, the first step of
// `npm test`) and one list of folders cover both.
//
// Prettier, not eslint-stylistic: its output is canonical (nothing to argue or
// configure per rule, one layout for every file), it breaks long expressions
// itself, and eslint-config-prettier switches off every ESLint rule that could
// disagree with it. Layout is Prettier's; ESLint keeps the rules about meaning.
import js from '@eslint/js';
import prettierOff from 'eslint-config-prettier';
import prettier from 'eslint-plugin-prettier';
import tseslint from 'typescript-eslint';

/** The folders lint checks. */
export const LINTED = ['scripts/**/*.ts', 'recipes/**/*.ts', 'runtime/**/*.ts', 'native/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'];
/** Folders under LINTED that lint skips for now (none: every folder is linted). */
export const NOT_YET_LINTED = [];

/** Longest line of code (tests may be longer: a test states its case on one line). */
const MAX_LINE = 160;

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/build/**', 'test/fixtures/**', ...NOT_YET_LINTED] },
  {
    files: LINTED,
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked, prettierOff],
    plugins: { prettier },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      'prettier/prettier': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // a `default:` is a decision about the other cases, not an oversight
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // off on purpose: a Builder or Recipe hook is async by contract (a throw becomes a rejection) even when
      // one implementation has nothing to await; no-floating-promises and no-misused-promises hold the real risk
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // code (not tests): lines of at most MAX_LINE characters, strings and all
    files: LINTED,
    ignores: ['test/**'],
    rules: { 'max-len': ['error', { code: MAX_LINE, tabWidth: 2, ignoreUrls: false, ignoreStrings: false, ignoreTemplateLiterals: false }] },
  },
);
