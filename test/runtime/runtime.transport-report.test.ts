// mpistack-run --report-transport: the parser joins Open MPI's and UCX's
// selection log lines (in their own formats, interleaved as a job prints them)
// to the ranks' probe lines by host and pid, decides who talks over TCP, and
// warns where a node with an RDMA device does; the argument parser and the
// probe job's command line. (The e2e stack.fabrics runs it on real jobs.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatReport, parseReport, parseReportArgs, probeCommand } from '../../runtime/transport-report.js';

const probe = (rank: number, host: string, pid: number, rdma: string[] = [], size = 2) =>
  `mpistack-probe ${JSON.stringify({ rank, size, host, pid, thread: 3, rdma })}`;

test('pml ucx: lanes per rank from UCX INFO lines, by host:pid (UCX pads the pid), shared memory is not TCP', () => {
  const text = [
    '[node1:00411] select: component ucx selected',
    '[1733212345.123456] [node1:411  :0]     ucp_worker.c:1783 UCX  INFO  ep_cfg[0]: tag(self/memory cma/memory)',
    '[node1:00412] select: component ucx selected',
    '[1733212345.123999] [node1:412  :0]     ucp_worker.c:1783 UCX  INFO  ep_cfg[0]: tag(self/memory cma/memory)',
    '[1733212345.124000] [node1:411  :0]     ucp_worker.c:1783 UCX  INFO  ep_cfg[1]: tag(posix/memory cma/memory)',
    '[1733212345.124001] [node1:412  :0]     ucp_worker.c:1783 UCX  INFO  ep_cfg[1]: tag(posix/memory cma/memory)',
    probe(1, 'node1', 412),
    probe(0, 'node1.cluster', 411),
  ].join('\n');
  const r = parseReport(text);
  assert.equal(
    r.map((x) => [x.rank, x.pml, x.ucx, x.tcp]),
    [
      [0, 'ucx', ['tag(self/memory cma/memory)', 'tag(posix/memory cma/memory)'], false],
      [1, 'ucx', ['tag(self/memory cma/memory)', 'tag(posix/memory cma/memory)'], false],
    ],
  );
  assert.equal(formatReport(r, 2).warnings, []);
});

test('ob1: the BTL to each peer from the bml lines; a tcp BTL on a node with an RDMA device is warned about, naming rank, host and device', () => {
  const text = [
    probe(0, 'a', 100, ['mlx5_0']),
    probe(1, 'b', 200, ['mlx5_0']),
    '[a:00100] select: component ob1 selected',
    '[a:00100] mca: bml: Using self btl for send to [[4242,1],0] on node a',
    '[a:00100] mca: bml: Using tcp btl for send to [[4242,1],1] on node b',
    '[b:00200] select: component ob1 selected',
    '[b:00200] mca: bml: Using tcp btl for send to [[4242,1],0] on node a',
  ].join('\n');
  const r = parseReport(text);
  assert.equal(r[0].btls, [
    { peer: 0, btl: 'self', node: 'a' },
    { peer: 1, btl: 'tcp', node: 'b' },
  ]);
  assert.ok(r.every((x) => x.tcp));
  const { lines, warnings } = formatReport(r, 2);
  assert.match(lines[0], /^rank 0 on a \(pid 100\): pml ob1; ob1: self to rank 0, tcp to rank 1; MPI_THREAD_MULTIPLE; RDMA devices: mlx5_0$/);
  assert.is(warnings.length, 2);
  assert.match(warnings[1], /^rank 1 on b talks over TCP although the node has RDMA devices \(mlx5_0\)/);
});

test('cm + ofi: provider and domain; tcp;ofi_rxm is TCP, shm is not; a pid of another job or host is not joined', () => {
  const text = [
    probe(0, 'n', 7),
    probe(1, 'n', 8),
    '[n:00007] select: component cm selected',
    '[n:00007] mtl_ofi_component.c:336: mtl:ofi:prov: tcp;ofi_rxm',
    '[n:00007] mtl_ofi_component.c:364: mtl:ofi:provider: eth0',
    '[n:00008] select: component cm selected',
    '[n:00008] mtl_ofi_component.c:336: mtl:ofi:prov: shm',
    '[other:00008] select: component ucx selected',
    '[n:00009] select: component ucx selected',
  ].join('\n');
  const r = parseReport(text);
  assert.equal(r[0].ofi, { provider: 'tcp;ofi_rxm', domain: 'eth0' });
  assert.is(r[0].tcp, true);
  assert.equal(r[1].ofi, { provider: 'shm' });
  assert.is(r[1].tcp, false);
  assert.is(r[1].pml, 'cm', "another host's line with the same pid did not overwrite it");
});

test('a rank that printed no probe line is reported missing; a cut probe line does not throw', () => {
  const r = parseReport([probe(0, 'n', 1, [], 3), 'mpistack-probe {"rank":1,"si', probe(2, 'n', 3, [], 3)].join('\n'));
  assert.equal(
    r.map((x) => x.rank),
    [0, 2],
  );
  assert.match(formatReport(r, 3).warnings.join('\n'), /1 of 3 ranks printed no probe line/);
});

test('arguments: ranks bounded, launcher mpirun|srun (srun by default inside a Slurm allocation), the rest after -- goes to the launcher', () => {
  assert.equal(parseReportArgs([], {}), { ranks: 2, launcher: 'mpirun', extra: [], json: false });
  assert.is(parseReportArgs([], { SLURM_JOB_ID: '5' }).launcher, 'srun');
  assert.is(parseReportArgs([], { SLURM_JOB_ID: '5' }, false).launcher, 'mpirun', 'no PMI-2 in the tree: mpirun even inside an allocation');
  assert.throws(() => parseReportArgs(['--launcher', 'srun'], {}, false), /no Slurm PMI-2 support/);
  assert.equal(parseReportArgs(['-n', '4', '--json', '--', '--mca', 'pml', 'ucx'], {}), {
    ranks: 4,
    launcher: 'mpirun',
    extra: ['--mca', 'pml', 'ucx'],
    json: true,
  });
  for (const bad of [['-n', '0'], ['-n', '1e3'], ['-n'], ['--launcher', 'aprun'], ['--bogus']]) assert.throws(() => parseReportArgs(bad, {}));
  const m = probeCommand(parseReportArgs(['-n', '3', '--', '-x', 'UCX_TLS=self,sm'], {}), '/opt/s', '/usr/bin/node');
  assert.equal(m.argv, [
    '/opt/s/bin/mpirun',
    '-x',
    'UCX_LOG_LEVEL',
    '-n',
    '3',
    '-x',
    'UCX_TLS=self,sm',
    '/usr/bin/node',
    '/opt/s/bin/mpistack-run',
    '--transport-probe',
  ]);
  assert.is(m.env.OMPI_MCA_pml_base_verbose, '10');
  const s = probeCommand(parseReportArgs(['--launcher', 'srun'], {}), '/opt/s', 'node');
  assert.equal(s.argv.slice(0, 4), ['srun', '--mpi=pmi2', '-n', '2']);
});

test.run();
