// npm run bench -- pingpong [--iters N] [--warmup N] [--idle-ms MS] [--prefix DIR]...
// Round-trip latency between 2 ranks (median, p99) for 8 B and 4 KiB, in one
// run: a C ping-pong compiled on the spot with mpicc (the floor), the
// binding's synchronous calls, its asynchronous calls (recvAsync on the
// receive thread), and mpi4py. Ratios are to the C floor. Then the CPU used
// by a rank waiting in recvAsync under the default wait policy, read from
// /proc/<pid>/stat over 5 s. Each --prefix (a built stack: its mpicc, mpirun,
// binding and mpi4py) gets its own table, e.g. the default and the seed's
// stack side by side; without one, the system's MPI and the local binding.
// Targets: sync <= 3x C; async median <= 30 us; idle <= 5% of a core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mpirunEnv } from '../test/helpers/mpi.js';
import {
  bindingPingPong,
  clockTicksPerSecond,
  compileCPingPong,
  cPingPong,
  cpuTicks,
  mpiVersion,
  pythonWith,
  runPair,
  targetOf,
  tool,
  type Lat,
  type Target,
} from './_mpi-target.js';

export const describe = 'MPI round-trip latency: C floor vs binding sync/async vs mpi4py; idle CPU of a waiting rank';

const here = dirname(fileURLToPath(import.meta.url));
const SIZES = [8, 4096];

const PY_SOURCE = `import sys, time
from mpi4py import MPI
iters, warmup = int(sys.argv[1]), int(sys.argv[2])
comm = MPI.COMM_WORLD
me = comm.Get_rank()
out = {}
for size in map(int, sys.argv[3:]):
    buf = bytearray(size)
    t = []
    comm.Barrier()
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        if me == 0:
            comm.Send([buf, MPI.BYTE], dest=1, tag=1); comm.Recv([buf, MPI.BYTE], source=1, tag=1)
        else:
            comm.Recv([buf, MPI.BYTE], source=0, tag=1); comm.Send([buf, MPI.BYTE], dest=0, tag=1)
        if i >= warmup: t.append((time.perf_counter() - t0) * 1e6)
    t.sort()
    out[str(size)] = {"median": t[len(t) // 2], "p99": t[min(len(t) - 1, int(len(t) * 0.99))]}
if me == 0:
    import json; print("RESULT " + json.dumps(out), flush=True)
`;

/** CPU of each rank over `windowMs` while both wait in recvAsync, in % of one core. */
async function idleCpu(t: Target, policy: string, windowMs: number): Promise<number[]> {
  const hz = clockTicksPerSecond();
  const child = spawn(tool(t, 'mpirun'), ['-n', '2', process.execPath, join(here, '_pingpong-rank.js'), 'idle', String(windowMs + 2500)], {
    env: mpirunEnv({ ...t.env, MPISTACK_WAIT_POLICY: policy }),
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const pids = new Map<number, number>();
  let text = '';
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error('idle run: ranks did not report their pids')), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      for (const m of text.matchAll(/^PID (\d+) (\d+)$/gm)) pids.set(Number(m[1]), Number(m[2]));
      if (pids.size === 2) {
        clearTimeout(t);
        res();
      }
    });
  });
  await new Promise((r) => setTimeout(r, 1000)); // past start-up
  const before = [0, 1].map((r) => cpuTicks(pids.get(r)!));
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const after = [0, 1].map((r) => cpuTicks(pids.get(r)!));
  const secs = (Date.now() - t0) / 1000;
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`idle run exited with ${code}`);
  return after.map((a, i) => (100 * (a - before[i])) / hz / secs);
}

const fmt = (x: number) => x.toFixed(1).padStart(8);

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      iters: { type: 'string', default: '5000' },
      warmup: { type: 'string', default: '500' },
      'idle-ms': { type: 'string', default: '5000' },
      prefix: { type: 'string', multiple: true },
    },
  });
  const iters = Math.max(10, Number(values.iters));
  const warmup = Math.max(0, Number(values.warmup));
  const idleMs = Math.max(1000, Number(values['idle-ms']));
  const prefixes = values.prefix?.length ? values.prefix : [undefined];
  for (const p of prefixes) await measure(targetOf(p), iters, warmup, idleMs);
}

async function measure(t: Target, iters: number, warmup: number, idleMs: number): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'mpistack-bench-pingpong-'));
  try {
    const exe = compileCPingPong(t, tmp);
    writeFileSync(join(tmp, 'pingpong.py'), PY_SOURCE);
    const rows: [string, Lat | undefined][] = [];
    console.log(`\n== ${t.prefix ? `stack ${t.prefix}` : 'system MPI, local binding'} (${mpiVersion(t)})`);
    console.log(`pingpong: 2 ranks, ${iters} round trips per size after ${warmup} warm-up, times in us`);
    rows.push(['C (mpicc, floor)', await cPingPong(t, exe, iters, warmup, SIZES)]);
    rows.push(['binding sync', await bindingPingPong(t, 'sync', iters, warmup, SIZES)]);
    rows.push(['binding async', await bindingPingPong(t, 'async', iters, warmup, SIZES)]);
    const py = pythonWith(t);
    rows.push(['mpi4py', py ? await runPair(t, [py, join(tmp, 'pingpong.py'), String(iters), String(warmup), ...SIZES.map(String)]) : undefined]);
    if (!py) console.log('mpi4py: not found (install python3-mpi4py, build the stack --with mpi4py, or set MPISTACK_PYTHON)');

    const floor = rows[0][1]!;
    console.log(`\n${'variant'.padEnd(18)}${SIZES.map((s) => `${`${s} B med`.padStart(10)}${'p99'.padStart(8)}${'x C'.padStart(7)}`).join('  ')}`);
    for (const [name, lat] of rows) {
      if (!lat) continue;
      console.log(
        name.padEnd(18) +
          SIZES.map((s) => fmt(lat[s].median).padStart(10) + fmt(lat[s].p99) + (lat[s].median / floor[s].median).toFixed(2).padStart(7)).join('  '),
      );
    }
    const sync = rows[1][1]!;
    const asyncLat = rows[2][1]!;
    const idle = await idleCpu(t, 'adaptive', idleMs);
    console.log(
      `\nidle CPU while waiting in recvAsync (default policy 'adaptive', ${idleMs / 1000} s from /proc): ` +
        `rank 0 ${idle[0].toFixed(2)}%, rank 1 ${idle[1].toFixed(2)}% of a core`,
    );
    const worstSync = Math.max(...SIZES.map((s) => sync[s].median / floor[s].median));
    console.log('\ntargets:');
    console.log(`  sync <= 3x C floor:        ${worstSync.toFixed(2)}x  ${worstSync <= 3 ? 'met' : 'MISSED'}`);
    console.log(
      `  async median <= 30 us:     ${SIZES.map((s) => `${s} B ${asyncLat[s].median.toFixed(1)} us`).join(', ')}  ` +
        (SIZES.every((s) => asyncLat[s].median <= 30) ? 'met' : 'MISSED'),
    );
    console.log(`  idle <= 5% of a core:      ${Math.max(...idle).toFixed(2)}%  ${Math.max(...idle) <= 5 ? 'met' : 'MISSED'}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
