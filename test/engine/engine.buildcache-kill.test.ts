// A build killed at any moment (SIGINT or SIGKILL; during the sanity check,
// or while the cache entry is being written) leaves no cache entry that a
// later run would take as valid, and the next run completes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildsDir, lookup } from '../../scripts/engine/buildcache.js';
import { makeFixture } from '../helpers/fixture.js';

const driver = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'cachedriver.js');

async function waitFor(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Every non-temporary entry under builds/ must pass lookup (complete and intact). */
async function assertNoInvalidEntry(cache: string): Promise<number> {
  const dir = buildsDir(cache);
  let valid = 0;
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (name.startsWith('.tmp-')) continue;
    const { entry, reason } = await lookup(cache, name);
    assert.ok(entry, `entry ${name} is not valid: ${reason}`);
    valid++;
  }
  return valid;
}

function runDriver(args: string[]): { outcome: string; key: string } {
  const r = spawnSync(process.execPath, [driver, ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `driver failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { outcome: string; key: string }[])[0];
}

for (const signal of ['SIGINT', 'SIGKILL'] as const) {
  for (const moment of ['check', 'store'] as const) {
    test(`${signal} during ${moment === 'check' ? 'the sanity check' : 'the cache store'}: no valid-looking entry; the rerun completes and is cached after`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'mpistack-kill-'));
      const mirror = join(root, 'mirror');
      mkdirSync(mirror);
      const fx = makeFixture(mirror, '1.0.0', 1);
      const prefix = join(root, 'opt', 'stack');
      const cache = join(root, 'cache');
      const args = [fx.tarball, fx.sha256, prefix, cache];
      const marker = join(root, 'in-check');
      const child = spawn(process.execPath, [driver, ...args], {
        stdio: 'ignore',
        env: { ...process.env, ...(moment === 'check' ? { MPISTACK_TEST_SLOW_CHECK: marker } : {}) },
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(sig ? -1 : code)));
      if (moment === 'check') await waitFor('the sanity check', () => existsSync(marker));
      else await waitFor('the cache store to start', () => existsSync(buildsDir(cache)) && readdirSync(buildsDir(cache)).some((n) => n.startsWith('.tmp-')));
      child.kill(signal);
      assert.is.not(await exited, 0, 'the killed build must not report success');
      assert.is(await assertNoInvalidEntry(cache), 0, 'no complete entry can exist: the build was killed before it finished storing');
      assert.not.ok(existsSync(join(prefix, 'bin', 'fixture-hello')), 'nothing reached the prefix');

      const second = runDriver(args);
      assert.is(second.outcome, 'built');
      assert.is(spawnSync(join(prefix, 'bin', 'fixture-hello'), { encoding: 'utf8' }).stdout, 'hi from fixture 1.0.0\n');
      assert.is(await assertNoInvalidEntry(cache), 1);
      assert.not.ok(
        readdirSync(buildsDir(cache)).some((n) => n.startsWith('.tmp-')),
        "the killed run's half-written entry is removed by the next store",
      );
      // the stale staging directory of the killed run is gone after the rerun
      assert.equal(readdirSync(dirname(prefix)), ['stack']);
      const third = runDriver(args);
      assert.is(third.outcome, 'installed');
      assert.is(third.key, second.key);
    });
  }
}

test.run();
