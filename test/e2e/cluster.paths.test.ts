// e2e (issue 17): a cluster whose nodes mount the stack at DIFFERENT paths.
// Three network-namespace hosts, each with its own copy of the packed tree at
// its own path (the other hosts' paths are empty in it); the rsh agent gives
// each host a login PATH that starts with its own <path>/bin, as a line in
// ~/.bashrc or a site profile would. mpirun is started on node0 by full path
// with `--mca orte_launch_agent "orted --mca plm_base_verbose 0"` (Open MPI
// gives mpirun's own prefix to the bare command `orted` only, and in 4.x
// `--noprefix` does not stop that under --enable-orterun-prefix-by-default):
// each remote daemon is the orted of its host's own tree, each rank runs that
// host's programs, which find their own tree (no OPAL_PREFIX anywhere; the
// PMIx prefix mpirun's environment carries is replaced by the host's own,
// see recipes/openmpi.ts patchesTable), and the runtime's client on node0
// gets answers from servers on node1 and node2 over TCP. The same job without
// the launch agent fails on the other hosts, naming node0's path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2ePrefix, packedStack } from '../helpers/cluster.js';
import { runLimited, type RunResult } from '../helpers/mpi.js';
import { makeCluster, tcpMca, type Cluster } from '../helpers/netns.js';

const prefix = realpathSync(e2ePrefix('cluster.paths'));
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-paths-')));
const work = join(tmp, 'work');
mkdirSync(work);
const PATHS = { node0: join(tmp, 'mnt', 'a', 'mpistack'), node1: join(tmp, 'mnt', 'bb', 'x', 'mpistack'), node2: join(tmp, 'opt', 'ccc', 'mpistack') };
let cluster: Cluster;

// each rank: its host, the orted that started it (its parent), the prefix its ompi_info finds, which copy that is
const WHERE =
  'echo "WHERE $(hostname) $(readlink /proc/$PPID/exe) $(ompi_info --path prefix --parsable) $(cat "$(dirname "$(command -v ompi_info)")/../share/host-copy")"';
const JOB = `
await client.startServices();
const cmd = "[require('os').hostname(), [...new Set(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\\\n').map((l) => l.split(/\\\\s+/)[5]).filter((p) => p && /\\\\/libmpi\\\\.so|\\\\/mpi\\\\.node$/.test(p)))].join(',')].join(' ')";
const r = await client.pushCommandRequest(cmd, { block: true, targetServer: [1, 2] });
for (const x of r) console.log('SERVER ' + x.server + ' ' + x.ret + ' ' + x.status);
console.log('CLIENT ' + (await import('node:os')).hostname());
`;

// each host's own orted, found on its login PATH (see the README): an orted command that is not the bare word
// 'orted' is not given mpirun's prefix (Open MPI's plm_rsh), and `--noprefix` alone does not do it in 4.x
const ANY_PATH = ['--mca', 'orte_launch_agent', 'orted --mca plm_base_verbose 0'];

/** mpirun on node0 by the full path of node0's tree, with a login environment and nothing of the stack set. */
function mpirunOnNode0(args: string[], timeoutMs = 240_000): Promise<RunResult> {
  const node0 = cluster.hosts[0];
  const [cmd, ...rest] = cluster.on(node0, [
    'env',
    '-i',
    'PATH=/usr/local/bin:/usr/bin:/bin',
    'HOME=/root',
    'OMPI_ALLOW_RUN_AS_ROOT=1',
    'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1',
    'OMPI_MCA_btl_vader_single_copy_mechanism=none',
    'OMPI_MCA_rmaps_base_oversubscribe=1',
    'MPISTACK_LOG_MODE=terminal',
    `${node0.path}/bin/mpirun`,
    ...tcpMca(cluster),
    ...args,
  ]);
  return runLimited(cmd, rest, { timeoutMs, cwd: work });
}

test.before(async () => {
  try {
    const stack = await packedStack(prefix, tmp);
    cluster = makeCluster(join(tmp, 'cluster'), ['node0', 'node1', 'node2'], stack, { paths: PATHS, loginPath: true });
  } catch (e) {
    // uvu reports a failed hook only as tests not passed: say why here
    console.error('cluster.paths: setting up the hosts failed:', e);
    throw e;
  }
});
test.after(() => cluster?.teardown());

test('every host runs its own orted and programs from its own path, and they find their own tree', async () => {
  writeFileSync(join(work, 'where.sh'), WHERE + '\n');
  const r = await mpirunOnNode0([...ANY_PATH, '--host', 'node0,node1,node2', '-n', '3', 'sh', join(work, 'where.sh')]);
  assert.not.ok(r.timedOut, `timed out\n${r.stdout}${r.stderr}`);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rows = [...r.stdout.matchAll(/^WHERE (\S+) (\S+) path:prefix:(\S+) (\S+)$/gm)].map((m) => m.slice(1));
  assert.is(rows.length, 3, r.stdout + r.stderr);
  for (const [host, orted, found, copy] of rows) {
    const path = PATHS[host as keyof typeof PATHS];
    assert.ok(path, `unknown host ${host}`);
    // node0 runs its ranks under mpirun itself (its local daemon), the others under their own orted
    if (host !== 'node0') assert.is(orted, `${path}/bin/orted`, `${host}'s daemon`);
    assert.is(found, path, `${host}'s ompi_info finds ${found}`);
    assert.is(copy, host, `${host} runs its own copy`);
  }
});

test('the runtime across hosts at different paths (client on node0, servers on node1 and node2), each loading its own tree', async () => {
  writeFileSync(join(work, 'job.js'), JOB);
  const r = await mpirunOnNode0([...ANY_PATH, '--host', 'node0,node1,node2', '-n', '3', 'mpistack-run', join(work, 'job.js')]);
  assert.not.ok(r.timedOut, `timed out\n${r.stdout}${r.stderr}`);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^CLIENT node0$/m, r.stdout + r.stderr);
  const servers = [...r.stdout.matchAll(/^SERVER (\d) (\S+) (\S+) response received$/gm)];
  assert.equal(servers.map((m) => m[2]).sort(), ['node1', 'node2'], r.stdout + r.stderr);
  for (const m of servers) {
    const path = PATHS[m[2] as keyof typeof PATHS];
    const libs = m[3].split(',');
    assert.ok(libs.some((l) => /\/libmpi\.so/.test(l)) && libs.some((l) => l.endsWith('/mpi.node')), `${m[2]} maps libmpi and the binding: ${m[3]}`);
    for (const lib of libs) assert.ok(lib.startsWith(`${path}/`), `${m[2]} maps ${lib}, not from its own tree ${path}`);
  }
});

test("without the launch agent, mpirun sends node0's path to every host: the remote launch fails there, naming it", async () => {
  const r = await mpirunOnNode0(['--host', 'node1', '-n', '1', 'hostname'], 120_000);
  assert.not.ok(r.timedOut, `timed out\n${r.stdout}${r.stderr}`);
  assert.is.not(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`${PATHS.node0}/bin/orted|orted: (command )?not found|No such file or directory`), r.stdout + r.stderr);
});

test.run();
