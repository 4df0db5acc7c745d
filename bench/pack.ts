// npm run bench -- pack [PREFIX] [--build-prefix DIR] [--reps N]
// Pack time against `tar czf` of the same inputs (the prefix plus the node
// binary pack bundles) in the same run, alternating, best of N each; tarball
// sizes; install time at a new path. Targets: pack <= 1.3x tar czf, install < 10 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { install } from '../scripts/pack/install.js';
import { pack } from '../scripts/pack/pack.js';

export const describe = 'pack time and size vs tar czf of the same inputs; install time at a new path';

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'build-prefix': { type: 'string' }, reps: { type: 'string', default: '3' }, 'no-node': { type: 'boolean', default: false } },
  });
  const prefixArg = positionals[0] ?? process.env.MPISTACK_PREFIX ?? process.env.MPISTACK_E2E_PREFIX;
  if (!prefixArg) {
    console.error('usage: npm run bench -- pack PREFIX [--build-prefix DIR] [--reps N] [--no-node]  (or set MPISTACK_PREFIX)');
    process.exitCode = 2;
    return;
  }
  const prefix = realpathSync(prefixArg);
  const reps = Math.max(1, Number(values.reps));
  const node = values['no-node'] ? undefined : realpathSync(process.execPath);
  const tmp = mkdtempSync(join(tmpdir(), 'mpistack-bench-pack-'));
  try {
    const tarTimes: number[] = [];
    const packTimes: number[] = [];
    let tarSize = 0;
    let packSize = 0;
    let tarball = '';
    let sha = '';
    let stable = true;
    for (let i = 0; i < reps; i++) {
      const tgz = join(tmp, `baseline-${i}.tar.gz`);
      const argv = ['czf', tgz, '-C', prefix, '.', ...(node ? ['-C', dirname(node), basename(node)] : [])];
      let t = process.hrtime.bigint();
      const r = spawnSync('tar', argv, { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`tar ${argv.join(' ')} failed`);
      tarTimes.push(Number(process.hrtime.bigint() - t) / 1e6);
      tarSize = statSync(tgz).size;
      rmSync(tgz);

      t = process.hrtime.bigint();
      const p = await pack({ prefix, buildPrefix: values['build-prefix'], out: join(tmp, `out-${i}`), node: node ?? false, version: 'bench' });
      packTimes.push(Number(process.hrtime.bigint() - t) / 1e6);
      packSize = p.size;
      if (sha && p.sha256 !== sha) stable = false;
      sha = p.sha256;
      tarball = p.tarball;
      if (i === 0)
        console.log(
          `pack phases (ms): ${Object.entries(p.timings)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
    }
    const best = (xs: number[]) => Math.min(...xs);
    const ratio = best(packTimes) / best(tarTimes);
    const t = process.hrtime.bigint();
    const inst = await install({ tarball, dest: join(tmp, 'install', 'at', 'a', 'new', 'path') });
    const installMs = Number(process.hrtime.bigint() - t) / 1e6;
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    console.log(`prefix ${prefix}${node ? ` + ${node}` : ''}, best of ${reps}`);
    console.log(`  tar czf        ${best(tarTimes).toFixed(0).padStart(7)} ms   ${mb(tarSize)}   (all: ${tarTimes.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`  mpistack pack  ${best(packTimes).toFixed(0).padStart(7)} ms   ${mb(packSize)}   (all: ${packTimes.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`  time ratio pack / tar czf: ${ratio.toFixed(2)}x (target <= 1.3x) ${ratio <= 1.3 ? 'ok' : 'OVER'}`);
    console.log(`  size ratio pack / tar czf: ${(packSize / tarSize).toFixed(3)}x`);
    console.log(`  same sha256 every run: ${stable ? 'yes' : 'NO'} (${sha})`);
    console.log(
      `  install at a new path: ${installMs.toFixed(0)} ms (target < 10000 ms) ${installMs < 10_000 ? 'ok' : 'OVER'}; ` +
        `${inst.entries} entries, ${inst.checked} checked`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
