// The b2 builder's phases: which commands run where, and the user-config.jam
// they leave behind (written for b2, appended to the tree's own for bjam).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boost } from '../../recipes/boost.js';
import { type BuildContext, type RunOptions, type Shell } from '../../recipes/kit/index.js';

function fakeCtx(version: string, srcDir: string, ran: string[][]): BuildContext {
  const shell: Shell = {
    recipe: 'boost',
    phase: 'test',
    logPath: '/dev/null',
    async run(cmd: string, args: string[], opts: RunOptions) {
      ran.push([opts.cwd, cmd, ...args]);
      return '';
    },
  };
  return {
    recipe: 'boost',
    version,
    prefix: '/stack',
    srcDir,
    buildDir: '/build',
    stageDir: '/stage',
    stagedPrefix: '/stage/stack',
    jobs: 2,
    configureArgs: [],
    env: {},
    shell,
  };
}

test('1.81.0: bootstrap, a fresh user-config.jam, then one b2 install run into the staged prefix', async () => {
  const src = mkdtempSync(join(tmpdir(), 'mpistack-b2-builder-'));
  try {
    mkdirSync(join(src, 'tools/build/src/engine'), { recursive: true });
    writeFileSync(join(src, 'tools/build/src/engine/jamgram.cpp'), '// shipped\n');
    writeFileSync(join(src, 'user-config.jam'), 'using mpi ; # left over, must go\n');
    const ran: string[][] = [];
    const ctx = fakeCtx('1.81.0', src, ran);
    for (const phase of ['prepare', 'configure', 'build'] as const) await boost.builder[phase]!(ctx);
    assert.equal(
      ran.map((r) => r.slice(0, 2)),
      [
        [src, './bootstrap.sh'],
        [src, './b2'],
      ],
    );
    assert.ok(ran[0].includes('--with-libraries=mpi,serialization'));
    assert.equal(ran[1].slice(-3), ['-j2', '--prefix=/stage/stack', 'install']);
    assert.ok(ran[1].includes(`--user-config=${join(src, 'user-config.jam')}`));
    assert.is(readFileSync(join(src, 'user-config.jam'), 'utf8'), '# written by mpistack (recipe configure phase)\nusing mpi : /stack/bin/mpicxx ;\n');
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
});

test('1.41.0: bjam, `using mpi` appended to tools/build/v2/user-config.jam (seed 4.3.3)', async () => {
  const src = mkdtempSync(join(tmpdir(), 'mpistack-b2-builder-'));
  try {
    mkdirSync(join(src, 'tools/build/v2'), { recursive: true });
    writeFileSync(join(src, 'tools/build/v2/user-config.jam'), "# the tree's own examples\n");
    const ran: string[][] = [];
    const ctx = fakeCtx('1.41.0', src, ran);
    for (const phase of ['prepare', 'configure', 'build'] as const) await boost.builder[phase]!(ctx);
    assert.equal(
      ran.map((r) => r[1]),
      ['./bootstrap.sh', './bjam'],
    );
    assert.not.ok(ran[1].some((a) => a.startsWith('--user-config')));
    const text = readFileSync(join(src, 'tools/build/v2/user-config.jam'), 'utf8');
    assert.ok(text.startsWith("# the tree's own examples\n"));
    assert.match(text, /^using mpi : \/stack\/bin\/mpicxx ;$/m);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
});

test.run();
