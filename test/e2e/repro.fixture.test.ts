// e2e: check-reproducible on a small package that records the date, user,
// host and build directory (test/helpers/reprofixture.ts). Built twice from
// clean, in two build directories, seconds apart: the packed tarballs are
// identical. With genuine randomness added, the report names each differing
// file and why (the ELF section, the text lines).
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeReproFixture, reproFixtureRecipe } from '../helpers/reprofixture.js';
import { checkReproducible } from '../../scripts/repro/repro.js';
import { formatDiffs } from '../../scripts/repro/treediff.js';

function setup(noise: boolean) {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-repro-'));
  const mirror = join(root, 'mirror');
  mkdirSync(mirror);
  const fx = makeReproFixture(mirror, { noise });
  return { root, mirror, recipe: reproFixtureRecipe(fx) };
}

test('two clean builds of the leaky package pack to the same sha256', async () => {
  const { root, mirror, recipe } = setup(false);
  const prefix = join(root, 'opt', 'leaky');
  const r = await checkReproducible({
    recipes: [recipe],
    prefix,
    workDir: join(root, 'work'),
    jobs: 2,
    mirrors: [mirror],
    offline: true,
    sourceDateEpoch: 1700000000,
    gapMs: 1100,
  });
  assert.is(r.rounds.length, 2);
  assert.is.not(r.rounds[0].cacheDir, r.rounds[1].cacheDir);
  assert.is.not(r.rounds[0].startedAt.slice(0, 19), r.rounds[1].startedAt.slice(0, 19), 'the rounds start at different seconds');
  assert.equal(formatDiffs(r.diffs), []);
  assert.ok(r.identical);
  assert.is(r.rounds[0].sha256, r.rounds[1].sha256);
  // the deterministic environment is what the package saw
  const stamp = readFileSync(join(prefix, 'share/leaky/stamp.txt'), 'utf8');
  assert.match(
    stamp,
    /^by mpistack mpistack mpistack on mpistack-build mpistack-build at Tue Nov 14 22:13:20 UTC 2023 \/ Nov 14 2023 22:13:20 in \/usr\/src\/mpistack\/src\/leaky-1.0.0\/main.c /,
  );
  assert.not.match(stamp, new RegExp(root), 'the build directory leaked into __FILE__');
});

test('a genuinely random constant and text line: both files named, with the ELF section and the lines', async () => {
  const { root, mirror, recipe } = setup(true);
  const r = await checkReproducible({
    recipes: [recipe],
    prefix: join(root, 'p'),
    workDir: join(root, 'work'),
    jobs: 2,
    mirrors: [mirror],
    offline: true,
    sourceDateEpoch: 1700000000,
    gapMs: 0,
  });
  assert.not.ok(r.identical);
  assert.is.not(r.rounds[0].sha256, r.rounds[1].sha256);
  const byPath = new Map(r.diffs.map((d) => [d.path, d]));
  const text = formatDiffs(r.diffs).join('\n');
  const elf = byPath.get('mpistack/bin/leaky');
  assert.ok(elf, text);
  assert.match(elf.why, /^ELF: sections .*\.rodata/, text);
  assert.ok(byPath.get('mpistack/share/leaky/random.txt')?.why.startsWith('text: 1 lines only in the first build, 1 only in the second'), text);
  assert.ok(byPath.has('mpistack/share/leaky/stamp.txt'), text);
  // the pack manifest lists every file's sha256, so it differs too, and nothing else does
  assert.equal(
    [...byPath.keys()].sort(),
    ['mpistack/bin/leaky', 'mpistack/share/leaky/random.txt', 'mpistack/share/leaky/stamp.txt', 'mpistack/share/mpistack/pack-manifest.json'],
    text,
  );
});

test('a prefix that is not empty is refused before anything is built', async () => {
  const { root, mirror, recipe } = setup(false);
  const prefix = join(root, 'full');
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  const err = await checkReproducible({
    recipes: [recipe],
    prefix,
    workDir: join(root, 'work'),
    jobs: 1,
    mirrors: [mirror],
    offline: true,
    sourceDateEpoch: 1,
  }).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err);
  assert.match(err.message, /must be empty or absent/);
});

test.run();
