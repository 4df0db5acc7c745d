// A build of the fixture package in its own process, so a test can kill it
// (SIGINT, SIGKILL) at a chosen moment and run it again. Usage:
//   node cachedriver.js <tarball> <sha256> <prefix> <cacheDir>
// MPISTACK_TEST_SLOW_CHECK=<file>: the sanity check writes <file> and then
// waits a minute (the moment to kill it "mid-build"). The install adds 3000
// small files so that storing the entry takes long enough to be caught.
// Prints the outcomes as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { autotools } from '../../recipes/builders/autotools.js';
import { buildStack } from '../../scripts/engine/engine.js';
import { fixtureRecipe } from './fixture.js';
import { type Recipe } from '../../recipes/kit/index.js';

const [tarball, sha256, prefix, cacheDir] = process.argv.slice(2);
const fx = { dir: dirname(tarball), tarball, filename: basename(tarball), sha256 };
const recipe: Recipe = {
  ...fixtureRecipe(fx),
  builder: {
    ...autotools,
    async install(ctx) {
      await autotools.install(ctx);
      for (let d = 0; d < 30; d++) {
        const dir = join(ctx.stagedPrefix, 'share', 'many', `d${d}`);
        mkdirSync(dir, { recursive: true });
        for (let f = 0; f < 100; f++) writeFileSync(join(dir, `f${f}.txt`), `${d}/${f}\n`);
      }
    },
  },
  async check() {
    const marker = process.env.MPISTACK_TEST_SLOW_CHECK;
    if (marker) {
      writeFileSync(marker, `${process.pid}\n`);
      await sleep(60_000);
    }
  },
};
const rs = await buildStack([recipe], { prefix, cacheDir, jobs: 2, mirrors: [fx.dir], offline: true, render: 'silent' });
console.log(JSON.stringify(rs.map((r) => ({ recipe: r.inputs.recipe, outcome: r.outcome, key: r.key }))));
