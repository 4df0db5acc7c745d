// The imports of scripts/, recipes/, runtime/ and native/ go only the ways
// ARCHITECTURE.md's table of rooms allows, and never round in a circle; the
// check itself catches a planted violation and a planted circle.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLayering, circles, parseRooms, roomEdges, roomOf, type Room } from './layering.js';
import { importsOf, readSources, repoRoot, type SourceFile } from './sources.js';

const root = repoRoot();
const rooms = parseRooms(readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8'));
const CHECKED = ['scripts', 'recipes', 'runtime', 'native'];
const sources = readSources(root, CHECKED);

test('ARCHITECTURE.md names the rooms of both halves', () => {
  const names = rooms.map((r) => r.name);
  for (const n of ['foundation', 'kit', 'recipe', 'engine', 'pack', 'repro', 'commands', 'native-api', 'native', 'runtime', 'test', 'bench']) {
    assert.ok(names.includes(n), `no room ${n} in ${names.join(', ')}`);
  }
  assert.ok(sources.length > 50, `only ${sources.length} sources read from ${CHECKED.join(', ')}`);
});

test('every import of scripts/, recipes/, runtime/, native/ goes a way ARCHITECTURE.md allows, and none goes round in a circle', () => {
  const bad = checkLayering(sources, rooms);
  assert.ok(bad.length === 0, `${bad.length} violations of ARCHITECTURE.md:\n${bad.map((v) => `  ${v.kind}: ${v.text}`).join('\n')}`);
});

test('the binding and the runtime stand apart from the builder (no edge either way)', () => {
  const half = (room: string | undefined) =>
    room === undefined ? '?' : ['native-api', 'native-loader', 'native', 'runtime'].includes(room) ? 'apart' : 'builder';
  const crossing = [...roomEdges(sources, rooms).keys()].filter((k) => {
    const [a, b] = k.split(' -> ');
    return half(a) !== half(b);
  });
  assert.equal(crossing, []);
});

// ---- the check catches what it is for: synthetic file sets

const file = (path: string, text = ''): SourceFile => ({ path, text });

test('a planted violation fails: engine -> pack, recipe -> engine internals, recipe -> recipe, anything -> test', () => {
  const files = [
    file('scripts/engine/buildcache.ts', "import { listTree } from '../pack/manifest.js';\n"),
    file('scripts/pack/manifest.ts'),
    file('recipes/boost.ts', "import type { Shell } from '../scripts/engine/shell.js';\nimport { parseLdd } from './toolchain.js';\n"),
    file('recipes/toolchain.ts'),
    file('scripts/engine/shell.ts', "import { mpirun } from '../../test/helpers/mpi.js';\n"),
  ];
  const bad = checkLayering(files, rooms);
  const texts = bad.map((v) => v.text).join('\n');
  assert.ok(
    bad.some((v) => v.kind === 'direction' && /scripts\/engine\/buildcache\.ts:1 imports scripts\/pack\/manifest\.ts.*engine -> pack/.test(v.text)),
    texts,
  );
  assert.ok(
    bad.some((v) => v.kind === 'direction' && /recipes\/boost\.ts:1 .*recipe -> engine/.test(v.text)),
    'a type-only import counts too\n' + texts,
  );
  assert.ok(
    bad.some((v) => v.kind === 'inside' && /recipes\/boost\.ts:2 imports recipes\/toolchain\.ts/.test(v.text)),
    texts,
  );
  assert.ok(
    bad.some((v) => v.kind === 'direction' && /engine -> test/.test(v.text)),
    texts,
  );
  assert.is(bad.length, 4, texts);
});

test('a planted circle fails, with the files in import order', () => {
  const files = [
    file('scripts/engine/a.ts', "import { b } from './b.js';\n"),
    file('scripts/engine/b.ts', "export { c } from './c.js';\n"),
    file('scripts/engine/c.ts', "const a = await import('./a.js');\n"),
    file('scripts/engine/d.ts', "import './a.js';\n"),
  ];
  const bad = checkLayering(files, rooms);
  assert.equal(bad, [{ kind: 'circle', text: 'import circle: scripts/engine/a.ts -> scripts/engine/b.ts -> scripts/engine/c.ts -> scripts/engine/a.ts' }]);
  assert.equal(circles([{ from: 'x', to: 'x' }]), [['x', 'x']], 'a file importing itself');
  assert.equal(circles([{ from: 'x', to: 'y' }]), []);
});

test('the circle recipes/types.ts <-> scripts/engine/local.ts (before issue 16) is one', () => {
  const files = [
    file('recipes/types.ts', "import { hashLocal } from '../scripts/engine/local.js';\n"),
    file('scripts/engine/local.ts', "import type { LocalSource } from '../../recipes/types.js';\n"),
  ];
  assert.ok(checkLayering(files, rooms).some((v) => v.kind === 'circle'));
});

test('a file in no room, and an import of a file in no room, fail', () => {
  const bad = checkLayering([file('scripts/newplace/x.ts'), file('scripts/engine/x.ts', "import '../../somewhere/y.js';\n")], rooms);
  assert.equal(
    bad.map((v) => v.text),
    ['scripts/newplace/x.ts belongs to no room of ARCHITECTURE.md', 'scripts/engine/x.ts:1 imports somewhere/y.ts, which belongs to no room'],
  );
});

test('rooms: the longest path wins; the table parser refuses what it cannot read', () => {
  const r = (p: string) => roomOf(p, rooms)?.name;
  assert.is(r('recipes/index.ts'), 'catalogue');
  assert.is(r('recipes/boost.ts'), 'recipe');
  assert.is(r('recipes/kit/contract.ts'), 'kit');
  assert.is(r('native/api.ts'), 'native-api');
  assert.is(r('native/src/x.ts'), 'native');
  assert.is(r('scripts/cli.ts'), 'commands');
  assert.throws(() => parseRooms('# nothing here\n'), /no table/);
  const table = '| room | files | may import | between its own files |\n| --- | --- | --- | --- |\n';
  assert.throws(() => parseRooms(`${table}| a | \`a/\` | b | yes |\n`), /may import 'b', which is no room/);
  assert.throws(() => parseRooms(`${table}| a | \`a/\` | — | maybe |\n`), /not yes or no/);
  const parsed: Room[] = parseRooms(`${table}| a | \`a/\`, \`x.ts\` | — | no |\n| b | \`b/\` | anything | yes |\n`);
  assert.equal(parsed, [
    { name: 'a', files: ['a/', 'x.ts'], mayImport: [], inside: false },
    { name: 'b', files: ['b/'], mayImport: 'anything', inside: true },
  ]);
});

test('imports are read by the TypeScript parser: type-only, re-exports, dynamic imports, not strings or comments', () => {
  const refs = importsOf(
    file(
      'x.ts',
      [
        "import type { A } from './a.js';",
        "import { type B, type C } from './b.js';",
        "import d, * as e from './d.js';",
        "export * from './f.js';",
        "export { g as h } from './g.js';",
        "// import { nope } from './comment.js';",
        'const s = "import { nope } from \'./string.js\'";',
        "await import('./dyn.js');",
        'await import(s);',
        "type T = import('./t.js').T;",
      ].join('\n'),
    ),
  );
  assert.equal(
    refs.map((r) => [r.specifier, r.typeOnly, r.reexport, r.names.map((n) => n.imported).join(',')]),
    [
      ['./a.js', true, false, 'A'],
      ['./b.js', true, false, 'B,C'],
      ['./d.js', false, false, 'default,*'],
      ['./f.js', false, true, '*'],
      ['./g.js', false, true, 'g'],
      ['./dyn.js', false, false, '*'],
      ['./t.js', true, false, 'T'],
    ],
  );
});

test.run();
