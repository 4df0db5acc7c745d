// e2e: the packed stack on several hosts for real. Three network namespaces on
// a private bridge, each with its own hostname and its own copy of the packed
// stack bind-mounted at the same path (the seed's "copy the prefix to
// identical paths on the cluster nodes"). The Torque qsub.sh that `mpistack
// job` writes runs on node0 with a PBS_NODEFILE naming node0 once and the
// other hosts once per core; mpirun starts the remote daemons through an rsh
// agent that enters the host's namespaces (ssh's place) and the ranks talk
// TCP over the bridge. Then the failure cases: a host in the nodefile that is
// not there (mpirun fails, naming it, nothing hangs), and a server host frozen
// mid-job (its requests end in 'timeout', the client finishes the work on the
// other host). Then the fabrics across hosts: pml ucx over tcp and mtl ofi over tcp, each rank on its own
// host, shown by mpistack-run --report-transport. Everything (processes, namespaces, bridge) is removed at the end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPbsNodefile, type HostEntry } from '../../scripts/cluster/hostfile.js';
import { e2ePrefix, packedStack } from '../helpers/cluster.js';
import { runLimited, type RunResult } from '../helpers/mpi.js';
import { makeCluster, tcpMca, type Cluster } from '../helpers/netns.js';
import { builtStack } from '../helpers/stack.js';
import type { RankTransport } from '../../runtime/transport-report.js';

const prefix = realpathSync(e2ePrefix('cluster.hosts'));
const fabrics = builtStack(prefix).recipes.includes('ucx');
const cli = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/cli.js');
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-hosts-')));
const work = join(tmp, 'work');
mkdirSync(work);
let cluster: Cluster;

// where every rank runs and which copy of the stack it loaded
const PLACES = `
const { hostname } = await import('node:os');
await client.startServices();
const size = Number(process.env.OMPI_COMM_WORLD_SIZE);
// the copy a rank loaded: the tree above the libmpi its process mapped (the tree finds itself: no OPAL_PREFIX is set)
const where = "((libs) => [require('os').hostname(), require('fs').readFileSync(libs[0].replace(/\\\\/lib\\\\/libmpi\\\\.so[^/]*$/, '') + '/share/host-copy', 'utf8').trim(), libs.join(',')].join(' '))([...new Set(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\\\n').map((l) => l.split(/\\\\s+/)[5]).filter((p) => p && /libmpi\\\\.so/.test(p)))])";
const r = await client.pushCommandRequest(where, { block: true, targetServer: Array.from({ length: size - 1 }, (_, i) => i + 1) });
for (const x of r) console.log('SERVER ' + x.server + ' ' + x.ret + ' ' + x.status);
console.log('CLIENT ' + hostname() + ' ' + size);
const sums = await client.pushCommandRequest('n * (n + 1) / 2', { block: true, targetServer: Array.from({ length: size - 1 }, (_, i) => i + 1), parameters: { n: 100 } });
console.log('SUMS ' + sums.map((s) => s.ret).join(' '));
`;

// work in flight when a host freezes: its requests end in 'timeout', the client redoes them elsewhere
const FREEZE = `
const { existsSync, writeFileSync } = await import('node:fs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await client.startServices();
const status = client.getServerStatus();
for (const [rank, s] of Object.entries(status)) console.log('PLACE ' + rank + ' ' + s.host + ' ' + s.pid);
const task = "new Promise((r) => setTimeout(() => r([n * n, require('os').hostname()]), 3000))";
const ids = [];
for (let n = 0; n < 8; n++) ids.push(...client.pushCommandRequest(task, { parameters: { n } }));
writeFileSync(process.env.FREEZE_REQUEST, 'now');
for (let i = 0; i < 600 && !existsSync(process.env.FREEZE_DONE); i++) await sleep(100);
const results = new Map();
let redo = [];
for (const r of await client.getCommandResponse(ids, { block: true, waitTimeoutMs: 120000 })) {
  if (r.status === 'timeout') { console.log('TIMEOUT server ' + r.server + ': ' + r.traceback.split('\\n')[0]); redo.push(r); }
  else results.set(r.parameters?.n ?? results.size, r.ret);
}
for (const r of redo) {
  const [again] = await client.pushCommandRequest(task, { block: true, parameters: r.parameters });
  console.log('REDONE ' + JSON.stringify(again.ret) + ' ' + again.status);
}
console.log('DONE ' + [...results.values()].map((v) => JSON.stringify(v)).join(' '));
writeFileSync(process.env.CLIENT_DONE, 'done');
`;

const MCA = (c: Cluster) => [
  ...tcpMca(c),
  '-x',
  'MPISTACK_LOG_MODE',
  '-x',
  'MPISTACK_SERVER_TIMEOUT_MS',
  '-x',
  'FREEZE_REQUEST',
  '-x',
  'FREEZE_DONE',
  '-x',
  'CLIENT_DONE',
];

/** `mpistack job --scheduler torque` on node0 (the stack is only at its path inside the hosts), then qsub.sh there with PBS_NODEFILE. */
async function qsubOnNode0(name: string, script: string, nodes: HostEntry[], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<RunResult> {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'job.js'), script);
  const node0 = cluster.hosts[0];
  const gen = spawnSync(
    cluster.on(node0, [process.execPath])[0],
    [
      ...cluster.on(node0, [process.execPath]).slice(1),
      cli,
      'job',
      '--scheduler',
      'torque',
      '--nodes',
      String(nodes.length),
      '--cores-per-node',
      '2',
      '--memory',
      '1gb',
      '--workdir',
      dir,
      '--stack',
      cluster.stackPath,
      ...MCA(cluster).map((a) => `--mpirun-arg=${a}`),
      '--',
      'job.js',
    ],
    { encoding: 'utf8' },
  );
  assert.is(gen.status, 0, gen.stderr);
  const nodefile = join(dir, 'PBS_NODEFILE');
  writeFileSync(nodefile, formatPbsNodefile(nodes));
  const [cmd, ...args] = cluster.on(node0, [
    'env',
    '-i',
    'PATH=/usr/local/bin:/usr/bin:/bin',
    'HOME=/root',
    `PBS_NODEFILE=${nodefile}`,
    `PBS_O_WORKDIR=${dir}`,
    `PBS_JOBID=${name}.node0`,
    'OMPI_ALLOW_RUN_AS_ROOT=1',
    'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1',
    'OMPI_MCA_btl_vader_single_copy_mechanism=none',
    'MPISTACK_LOG_MODE=terminal',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    'bash',
    join(dir, 'qsub.sh'),
  ]);
  return runLimited(cmd, args, { timeoutMs });
}

test.before(async () => {
  const stack = await packedStack(prefix, tmp);
  cluster = makeCluster(join(tmp, 'cluster'), ['node0', 'node1', 'node2'], stack, ['node3']);
});
test.after(() => cluster?.teardown());

test('client on node0, servers on node1 and node2 over TCP: each host runs its own copy of the stack at the same path', async () => {
  const r = await qsubOnNode0('places', PLACES, [
    { host: 'node0', slots: 1 },
    { host: 'node1', slots: 2 },
    { host: 'node2', slots: 2 },
  ]);
  assert.not.ok(r.timedOut, `timed out\n${r.stdout}${r.stderr}`);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^CLIENT node0 5$/m, 'one rank per PBS_NODEFILE line, rank 0 on node0');
  const servers = [...r.stdout.matchAll(/^SERVER (\d) (\S+) (\S+) (\S+) response received$/gm)];
  assert.equal(
    servers.map((m) => [Number(m[1]), m[2]]).sort(),
    [
      [1, 'node1'],
      [2, 'node1'],
      [3, 'node2'],
      [4, 'node2'],
    ],
    r.stdout,
  );
  for (const m of servers) {
    assert.is(m[3], m[2], `rank ${m[1]} on ${m[2]} reads ${m[2]}'s own copy of the stack`);
    assert.ok(m[4].startsWith(`${cluster.stackPath}/lib/`), `rank ${m[1]} maps ${m[4]}, from the shared path`);
  }
  assert.match(r.stdout, /^SUMS 5050 5050 5050 5050$/m);
});

/** `mpistack-run --report-transport --json` on node0 over node0..node2 (one rank each), nothing of the stack set but PATH. */
async function reportAcrossHosts(args: string[]): Promise<{ code: number | null; out: string; ranks: RankTransport[] }> {
  const hostfile = join(work, 'fabric-hosts');
  writeFileSync(hostfile, 'node0 slots=1\nnode1 slots=1\nnode2 slots=1\n');
  const [cmd, ...rest] = cluster.on(cluster.hosts[0], [
    'env',
    '-i',
    `PATH=${cluster.stackPath}/bin:/usr/local/bin:/usr/bin:/bin`,
    'HOME=/root',
    'OMPI_ALLOW_RUN_AS_ROOT=1',
    'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1',
    `${cluster.stackPath}/bin/mpistack-run`,
    '--report-transport',
    '-n',
    '3',
    '--json',
    '--',
    '--hostfile',
    hostfile,
    '--mca',
    'plm_rsh_agent',
    cluster.agent,
    '--mca',
    'oob_tcp_if_include',
    cluster.iface,
    ...args,
  ]);
  const r = await runLimited(cmd, rest, { timeoutMs: 180_000 });
  const out = r.stdout + r.stderr;
  assert.not.ok(r.timedOut, `timed out\n${out}`);
  let ranks: RankTransport[] = [];
  try {
    ranks = (JSON.parse(r.stdout) as { ranks: RankTransport[] }).ranks;
  } catch {
    /* reported below */
  }
  return { code: r.code, out, ranks };
}

test(`across hosts: ${fabrics ? 'pml ucx over tcp and mtl ofi over tcp' : 'ob1 over tcp (this stack has no fabrics)'}, each rank on its own host, as the report shows`, async () => {
  const cases = fabrics
    ? [
        {
          name: 'ucx tcp',
          args: [
            '--mca',
            'pml',
            'ucx',
            '--mca',
            'pml_ucx_tls',
            'any',
            '--mca',
            'pml_ucx_devices',
            'any',
            '-x',
            'UCX_TLS=self,tcp',
            '-x',
            `UCX_NET_DEVICES=${cluster.iface}`,
          ],
          pml: 'ucx',
        },
        {
          name: 'ofi tcp',
          args: ['--mca', 'pml', 'cm', '--mca', 'mtl', 'ofi', '--mca', 'mtl_ofi_provider_include', 'tcp', '-x', `FI_TCP_IFACE=${cluster.iface}`],
          pml: 'cm',
        },
      ]
    : [{ name: 'ob1 tcp', args: ['--mca', 'btl', 'tcp,self', '--mca', 'btl_tcp_if_include', cluster.iface], pml: 'ob1' }];
  for (const c of cases) {
    const r = await reportAcrossHosts(c.args);
    assert.is(r.code, 0, `${c.name}\n${r.out}`);
    assert.equal(
      r.ranks.map((x) => [x.rank, x.host, x.pml, x.thread]),
      [
        [0, 'node0', c.pml, 3],
        [1, 'node1', c.pml, 3],
        [2, 'node2', c.pml, 3],
      ],
      `${c.name}\n${r.out}`,
    );
    for (const x of r.ranks) {
      if (c.pml === 'ucx')
        assert.ok(
          x.ucx.some((l) => l.includes(`tcp/${cluster.iface}`)),
          `${c.name} rank ${x.rank}: a tcp lane on ${cluster.iface}: ${x.ucx.join(' | ')}\n${r.out}`,
        );
      if (c.pml === 'cm') assert.match(x.ofi?.provider ?? '', /^tcp\b/, `${c.name} rank ${x.rank}\n${r.out}`);
      // (Open MPI 1.6 logs no BTL per peer: there the report names the PML only)
      if (c.pml === 'ob1' && builtStack(prefix).openmpi.startsWith('1.')) assert.equal(x.btls, []);
      else if (c.pml === 'ob1') {
        const peers = x.btls.filter((b) => b.peer !== x.rank);
        assert.ok(peers.length === 2 && peers.every((b) => b.btl === 'tcp'), `${c.name} rank ${x.rank}: ${JSON.stringify(x.btls)}`);
      }
    }
    console.log(
      `[hosts] ${c.name}: ${r.ranks.map((x) => `${x.host} ${x.pml} ${x.pml === 'ucx' ? x.ucx.join('|') : x.pml === 'cm' ? x.ofi?.provider : x.btls.map((b) => b.btl).join(',')}`).join('; ')}`,
    );
  }
});

test('a host in the nodefile that is not there: mpirun fails, naming it, and nothing hangs', async () => {
  const r = await qsubOnNode0(
    'unreachable',
    PLACES,
    [
      { host: 'node0', slots: 1 },
      { host: 'node1', slots: 1 },
      { host: 'node3', slots: 1 },
    ],
    {},
    120_000,
  );
  assert.not.ok(r.timedOut, `mpirun hung\n${r.stdout}${r.stderr}`);
  assert.is.not(r.code, 0);
  const out = r.stdout + r.stderr;
  assert.match(out, /node3 port 22: No route to host/, out);
  // Open MPI 4's wording, and 1.6's
  assert.match(
    out,
    /ORTE was unable to reliably start one or more daemons|A daemon \(pid \d+\) died unexpectedly with status 255 while attempting\s+to launch/,
    out,
  );
  assert.not.match(out, /^CLIENT/m, 'the client never ran');
});

test('a server host frozen mid-job: its requests time out naming the host, the client finishes the work on the other host', async () => {
  const dir = join(work, 'freeze');
  const env = {
    MPISTACK_SERVER_TIMEOUT_MS: '2000',
    FREEZE_REQUEST: join(dir, 'freeze-request'),
    FREEZE_DONE: join(dir, 'frozen'),
    CLIENT_DONE: join(dir, 'client-done'),
  };
  const node2 = cluster.hosts[2];
  let frozen: number[] = [];
  let ended = false;
  const waitFor = async (file: string) => {
    while (!ended && !existsSync(file)) await new Promise((r) => setTimeout(r, 100));
    return existsSync(file);
  };
  // the "operator": freeze node2 when the client asks, kill it once the client is done (the host never comes back)
  const watcher = (async () => {
    if (!(await waitFor(env.FREEZE_REQUEST))) return;
    frozen = cluster.pids(node2);
    for (const p of frozen) {
      try {
        process.kill(p, 'SIGSTOP');
      } catch {
        /* gone */
      }
    }
    writeFileSync(env.FREEZE_DONE, 'yes');
    await waitFor(env.CLIENT_DONE);
    for (const p of cluster.pids(node2)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  })();
  const r = await qsubOnNode0(
    'freeze',
    FREEZE,
    [
      { host: 'node0', slots: 1 },
      { host: 'node1', slots: 2 },
      { host: 'node2', slots: 2 },
    ],
    env,
  ).finally(() => {
    ended = true;
  });
  await watcher;
  const out = r.stdout + r.stderr;
  assert.not.ok(r.timedOut, `the job hung\n${out}`);
  assert.ok(frozen.length >= 3, `node2's daemon and two servers were frozen: ${frozen.join(' ')}`);
  const timeouts = [...r.stdout.matchAll(/^TIMEOUT server (\d): (.*)$/gm)];
  assert.ok(timeouts.length >= 1, `some request was on node2 when it froze\n${out}`);
  for (const t of timeouts) {
    assert.ok(['3', '4'].includes(t[1]), `only node2's servers (3, 4) time out: ${t[0]}`);
    assert.match(t[2], /node2/, 'the timeout names the host');
  }
  const redone = [...r.stdout.matchAll(/^REDONE \[(\d+),"(\w+)"\] response received$/gm)];
  assert.is(redone.length, timeouts.length, out);
  for (const m of redone) assert.is(m[2], 'node1', 'redone on the live host');
  const done = /^DONE (.*)$/m.exec(r.stdout);
  assert.ok(done, out);
  const squares = [...(JSON.parse(`[${done[1].split(' ').join(',')}]`) as [number, string][]), ...redone.map((m): [number, string] => [Number(m[1]), m[2]])]
    .map((v: [number, string]) => v[0])
    .sort((a, b) => a - b);
  assert.equal(squares, [0, 1, 4, 9, 16, 25, 36, 49], 'all 8 results, every one computed');
});

test.run();
