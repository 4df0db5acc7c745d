// npm run bench -- fabrics [--prefix DIR] [--iters N] [--warmup N]
// The C ping-pong floor (2 ranks, 8 B and 4 KiB, median and p99 round trip)
// under each transport selection of a stack built with fabrics, in one run:
// ob1 over vader (shared memory: Open MPI's default on a node without RDMA
// devices), ob1 over tcp, pml ucx with UCX_TLS=self,sm and self,tcp, mtl ofi
// with libfabric's sockets and tcp providers. Ratios are to ob1/vader. Target:
// ucx sm within 1.5x of ob1/vader (issue 18); the rest is to see them side by side.
// Without --prefix: $MPISTACK_PREFIX.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileCPingPong, mpiVersion, resultOf, runRanks, targetOf, type Lat } from './_mpi-target.js';

export const describe = 'C ping-pong per transport selection (ob1 vader/tcp, ucx sm/tcp, ofi sockets/tcp) of a stack with fabrics';

const SIZES = [8, 4096];

const UCX = ['--mca', 'pml', 'ucx', '--mca', 'pml_ucx_tls', 'any', '--mca', 'pml_ucx_devices', 'any'];
const OFI = ['--mca', 'pml', 'cm', '--mca', 'mtl', 'ofi', '--mca', 'mtl_ofi_provider_include'];

/** The selections, as mpirun arguments, with the first being the baseline. */
export const SELECTIONS: { name: string; args: string[] }[] = [
  { name: 'ob1 vader', args: ['--mca', 'pml', 'ob1', '--mca', 'btl', 'vader,self'] },
  { name: 'ob1 tcp', args: ['--mca', 'pml', 'ob1', '--mca', 'btl', 'tcp,self'] },
  // pml ucx asked for explicitly on a node without an HCA: 'any' transport and device (4.1 defaults to verbs/mlx5 and mlx*)
  { name: 'ucx sm', args: [...UCX, '-x', 'UCX_TLS=self,sm'] },
  { name: 'ucx tcp', args: [...UCX, '-x', 'UCX_TLS=self,tcp'] },
  // the ofi MTL excludes software providers unless included; libfabric's shm is not offered (no FI_REMOTE_COMM)
  { name: 'ofi sockets', args: [...OFI, 'sockets'] },
  { name: 'ofi tcp', args: [...OFI, 'tcp'] },
];

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { prefix: { type: 'string' }, iters: { type: 'string', default: '5000' }, warmup: { type: 'string', default: '500' } },
  });
  const prefix = values.prefix ?? process.env.MPISTACK_PREFIX;
  if (!prefix) throw new Error('bench fabrics: --prefix DIR (a stack built with fabrics) is required');
  const t = targetOf(prefix);
  const iters = Math.max(10, Number(values.iters));
  const warmup = Math.max(0, Number(values.warmup));
  const tmp = mkdtempSync(join(tmpdir(), 'mpistack-bench-fabrics-'));
  try {
    const exe = compileCPingPong(t, tmp);
    console.log(`\n== stack ${prefix} (${mpiVersion(t)})`);
    console.log(`C ping-pong, 2 ranks on one node, ${iters} round trips per size after ${warmup} warm-up, times in us`);
    const rows: [string, Lat | string][] = [];
    for (const s of SELECTIONS) {
      const r = await runRanks(t, 2, [...s.args, exe, String(iters), String(warmup), ...SIZES.map(String)], { timeoutMs: 300_000 });
      try {
        rows.push([s.name, resultOf<Lat>(r, s.name)]);
      } catch (e) {
        rows.push([s.name, `failed: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`]);
      }
    }
    const base = rows[0][1];
    console.log(`\n${'selection'.padEnd(12)}${SIZES.map((s) => `${`${s} B med`.padStart(10)}${'p99'.padStart(8)}${'x vader'.padStart(9)}`).join('  ')}`);
    for (const [name, lat] of rows) {
      if (typeof lat === 'string') {
        console.log(`${name.padEnd(12)}${lat}`);
        continue;
      }
      console.log(
        name.padEnd(12) +
          SIZES.map(
            (s) =>
              lat[s].median.toFixed(2).padStart(10) +
              lat[s].p99.toFixed(1).padStart(8) +
              (typeof base === 'string' ? '-' : (lat[s].median / base[s].median).toFixed(2)).padStart(9),
          ).join('  '),
      );
    }
    const sm = rows.find(([n]) => n === 'ucx sm')?.[1];
    if (typeof sm !== 'string' && sm && typeof base !== 'string') {
      const worst = Math.max(...SIZES.map((s) => sm[s].median / base[s].median));
      console.log(`\ntarget: ucx sm within 1.5x of ob1 vader: ${worst.toFixed(2)}x  ${worst <= 1.5 ? 'met' : 'MISSED'}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
