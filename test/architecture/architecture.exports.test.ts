// No unused exports in the folders listed in UNUSED_EXPORTS_CHECKED (the
// lint's knip-like half: ESLint sees one file at a time and cannot tell), and
// the check itself catches a planted one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { unusedExports } from './exports.js';
import { readSources, repoRoot, type SourceFile } from './sources.js';

/** The folders held to "no unused export"; the binding and the runtime join when their split lands (add 'native/', 'runtime/'). */
export const UNUSED_EXPORTS_CHECKED = ['scripts/', 'recipes/'];

const sources = readSources(repoRoot(), ['scripts', 'recipes', 'runtime', 'native', 'test', 'bench']);

test(`every export of ${UNUSED_EXPORTS_CHECKED.join(', ')} is imported somewhere (code, tests or benchmarks)`, () => {
  const unused = unusedExports(sources, UNUSED_EXPORTS_CHECKED);
  assert.ok(
    unused.length === 0,
    `${unused.length} unused exports (drop the export, or the code):\n${unused.map((u) => `  ${u.file}:${u.line} ${u.name}`).join('\n')}`,
  );
});

const file = (path: string, text: string): SourceFile => ({ path, text });

test('a planted unused export is found; uses through a re-export, a namespace import and a command entry point are uses', () => {
  const files = [
    file(
      'scripts/foundation/a.ts',
      'export function used() {}\nexport const unused = 1;\nexport interface ViaStar { x: number }\nexport type ViaNs = string;\n',
    ),
    file('recipes/kit/index.ts', "export * from '../../scripts/foundation/a.js';\n"),
    file('scripts/foundation/b.ts', 'export const viaNamespace = 1;\n'),
    file(
      'recipes/x.ts',
      "import { type ViaStar } from './kit/index.js';\nimport { used } from '../scripts/foundation/a.js';\nimport * as b from '../scripts/foundation/b.js';\n",
    ),
    file('scripts/commands/hello.ts', "export const describe = 'x';\nexport async function run() { return 0; }\nexport const helper = 2;\n"),
  ];
  assert.equal(
    unusedExports(files, ['scripts/', 'recipes/']).map((u) => `${u.file}:${u.line} ${u.name}`),
    ['scripts/foundation/a.ts:2 unused', 'scripts/foundation/a.ts:4 ViaNs', 'scripts/commands/hello.ts:3 helper'],
  );
});

test.run();
