// `mpistack-run --report-transport`: which transport each rank of a job
// really uses ("am I on InfiniBand?"), asked of the job itself.
//
// How: the report runs a probe job through the job's own launcher (this
// tree's mpirun, or `srun --mpi=pmi2` inside a Slurm allocation) with the
// selection logs of Open MPI and UCX switched on, and reads them back:
//
//   what                      switched on by                     line read (one per rank; [host:pid] prefix)
//   PML chosen                OMPI_MCA_pml_base_verbose=10       select: component <pml> selected
//   BTL per peer (ob1)        OMPI_MCA_btl_base_verbose=1        mca: bml: Using <btl> btl for send to [[job,vpid],<rank>] on node <host>
//   OFI provider (cm + ofi)   OMPI_MCA_opal_common_ofi_verbose=1 mtl:ofi:prov: <provider>
//                             OMPI_MCA_mtl_base_verbose=1        mtl:ofi:provider: <domain>
//   UCX lanes (pml ucx)       UCX_LOG_LEVEL=info                 ep_cfg[<n>]: tag(<tl>/<device> ...) ...
//
// Each probe rank initialises MPI (MPI_THREAD_MULTIPLE asked), exchanges a
// message with every other rank (so every endpoint is really connected and
// logged), and prints one line `mpistack-probe {json}` with its rank, host,
// pid, thread level and the RDMA devices its node has (/sys/class/infiniband).
// The report joins the log lines to ranks by host and pid, prints one line
// per rank and warns when a rank whose node has an RDMA device talks over TCP.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ThreadLevel, type MPIBinding } from '../native/api.js';
import { LaunchUsageError } from './errors.js';

/** What the probe line of one rank says. */
export interface ProbeLine {
  rank: number;
  size: number;
  host: string;
  pid: number;
  thread: number;
  /** RDMA devices of the rank's node (names under /sys/class/infiniband) */
  rdma: string[];
}

/** What the report found for one rank. */
export interface RankTransport extends ProbeLine {
  /** the PML Open MPI selected (ob1, ucx, cm), or undefined when the log did not say */
  pml?: string;
  /** ob1: the BTL used towards each peer rank */
  btls: { peer: number; btl: string; node: string }[];
  /** cm + ofi: the libfabric provider and domain */
  ofi?: { provider: string; domain?: string };
  /** ucx: the distinct endpoint configurations (lanes as tl/device) */
  ucx: string[];
  /** does any of the above go over TCP (tcp BTL, a tcp UCX lane, the tcp/sockets/udp OFI providers) */
  tcp: boolean;
}

const PROBE_TAG = 'mpistack-probe ';

/** The environment that switches the selection logs on (added to the launcher's). */
export const REPORT_ENV: Readonly<Record<string, string>> = {
  OMPI_MCA_pml_base_verbose: '10',
  OMPI_MCA_btl_base_verbose: '1',
  OMPI_MCA_mtl_base_verbose: '1',
  OMPI_MCA_opal_common_ofi_verbose: '1',
  UCX_LOG_LEVEL: 'info',
};

/** The RDMA devices of this node: the entries of <sysfs>/class/infiniband (none when it does not exist). */
export function rdmaDevices(sysfs = '/sys'): string[] {
  const dir = join(sysfs, 'class', 'infiniband');
  if (!existsSync(dir)) return [];
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * The probe, on every rank of the job: initialise, talk to every other rank,
 * print the probe line, finalize. Returns the exit code.
 */
export function runProbe(binding: MPIBinding): number {
  const thread = binding.initThread(ThreadLevel.MULTIPLE);
  const world = binding.COMM_WORLD;
  const { rank, size } = world;
  const ping = Buffer.from('mpistack transport probe');
  // every pair once, lower rank sends first: each rank's endpoints to all peers get connected (and logged)
  for (let peer = 0; peer < size; peer++) {
    if (peer === rank) continue;
    if (rank < peer) {
      world.send(ping, peer, 7);
      world.recv(peer, 7);
    } else {
      world.recv(peer, 7);
      world.send(ping, peer, 7);
    }
  }
  world.barrier();
  const line: ProbeLine = { rank, size, host: safeHost(binding), pid: process.pid, thread, rdma: rdmaDevices() };
  process.stdout.write(`${PROBE_TAG}${JSON.stringify(line)}\n`);
  binding.finalize();
  return 0;
}

function safeHost(b: MPIBinding): string {
  try {
    return b.processorName();
  } catch {
    return hostname();
  }
}

/** `[host:pid]` as Open MPI prints it (`[node1:01234]`) and UCX (`[node1:1234 :0]`): host and pid of a log line, if any. */
function originOf(line: string): { host: string; pid: number } | undefined {
  const m = /\[([^\s:[\]]+):\s*0*(\d+)(?:\s*:\d+)?\]/.exec(line);
  return m ? { host: m[1], pid: Number(m[2]) } : undefined;
}

/** Pure: the report of a probe job's combined output (stdout and stderr, any order). */
export function parseReport(text: string): RankTransport[] {
  const lines = text.split('\n');
  const ranks: RankTransport[] = [];
  for (const l of lines) {
    const at = l.indexOf(PROBE_TAG);
    if (at < 0) continue;
    try {
      const p = JSON.parse(l.slice(at + PROBE_TAG.length)) as ProbeLine;
      ranks.push({ ...p, btls: [], ucx: [], tcp: false });
    } catch {
      /* a probe line cut by another rank's output: that rank shows as unreported */
    }
  }
  ranks.sort((a, b) => a.rank - b.rank);
  // host names: Open MPI prints the short name, the probe MPI_Get_processor_name (may be the same or longer)
  const short = (h: string) => h.split('.')[0];
  const find = (o: { host: string; pid: number }) => ranks.find((r) => r.pid === o.pid && short(r.host) === short(o.host));
  for (const l of lines) {
    const o = originOf(l);
    if (!o) continue;
    const r = find(o);
    if (!r) continue;
    let m: RegExpExecArray | null;
    if ((m = /select: component (\w+) selected/.exec(l))) r.pml = m[1];
    else if ((m = /mca: bml: Using (\w+) btl for send to \[\[\d+,\d+\],(\d+)\] on node (\S+)/.exec(l))) {
      const peer = Number(m[2]);
      if (!r.btls.some((b) => b.peer === peer && b.btl === m![1])) r.btls.push({ peer, btl: m[1], node: m[3] });
    } else if ((m = /mtl:ofi:prov: (\S+)/.exec(l))) r.ofi = { ...r.ofi, provider: m[1] };
    else if ((m = /mtl:ofi:provider: (\S+)/.exec(l))) r.ofi = { provider: r.ofi?.provider ?? '?', domain: m[1] };
    else if ((m = /ep_cfg\[\d+\]: (.*\S)\s*$/.exec(l))) {
      if (!r.ucx.includes(m[1])) r.ucx.push(m[1]);
    }
  }
  for (const r of ranks) {
    r.btls.sort((a, b) => a.peer - b.peer);
    r.tcp =
      (r.pml === 'ob1' && r.btls.some((b) => b.btl === 'tcp')) ||
      (r.pml === 'ucx' && r.ucx.some((c) => /\btcp\//.test(c))) ||
      (r.pml === 'cm' && !!r.ofi && /^(tcp|sockets|udp)\b|;ofi_rx[md]$|^tcp;/.test(r.ofi.provider));
  }
  return ranks;
}

const NO_BTL_LOGGED = '(no BTL logged: Open MPI before 1.7 does not log the BTL per peer)';

/** One line per rank, then the warnings; pure. */
export function formatReport(ranks: readonly RankTransport[], expected: number): { lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  for (const r of ranks) {
    const what =
      r.pml === 'ucx'
        ? `ucx: ${r.ucx.length ? r.ucx.join(' | ') : '(no endpoint logged)'}`
        : r.pml === 'cm'
          ? `cm + ofi: provider ${r.ofi?.provider ?? '?'}${r.ofi?.domain ? ` (domain ${r.ofi.domain})` : ''}`
          : r.pml === 'ob1'
            ? `ob1: ${r.btls.length ? r.btls.map((b) => `${b.btl} to rank ${b.peer}`).join(', ') : NO_BTL_LOGGED}`
            : `${r.pml ?? '(pml not logged)'}`;
    const thread = r.thread === 3 ? 'MPI_THREAD_MULTIPLE' : `thread level ${r.thread}`;
    lines.push(
      `rank ${r.rank} on ${r.host} (pid ${r.pid}): pml ${r.pml ?? '?'}; ${what}; ${thread}; RDMA devices: ${r.rdma.length ? r.rdma.join(', ') : 'none'}`,
    );
    if (r.rdma.length && r.tcp)
      warnings.push(
        `rank ${r.rank} on ${r.host} talks over TCP although the node has RDMA devices (${r.rdma.join(', ')}): ` +
          'check that the verbs libraries (libibverbs, rdma-core providers) are installed on the node and that nothing forces pml ob1, ' +
          'UCX_TLS or FI_PROVIDER to tcp (mpistack-run --report-transport shows the choice; unset those to let UCX pick the fabric)',
      );
  }
  if (ranks.length !== expected) warnings.push(`${expected - ranks.length} of ${expected} ranks printed no probe line (see the launcher's output above)`);
  return { lines, warnings };
}

export interface ReportArgs {
  ranks: number;
  launcher: 'mpirun' | 'srun';
  /** more launcher arguments (after --) */
  extra: string[];
  json: boolean;
}

/**
 * `pmi2`: the tree's Open MPI has Slurm's PMI-2 client (lib/openmpi/mca_pmix_s2.so). Inside an allocation srun is
 * the default only then; without it (the seed's 1.6.5) srun's ranks would wait in MPI_Init, so srun is refused.
 */
export function parseReportArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, pmi2 = true): ReportArgs {
  const out: ReportArgs = { ranks: 2, launcher: env.SLURM_JOB_ID && pmi2 ? 'srun' : 'mpirun', extra: [], json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new LaunchUsageError(`${a} needs a value`);
      return v;
    };
    if (a === '-n' || a === '--ranks') {
      const v = value();
      const n = /^\d{1,4}$/.test(v) ? Number(v) : NaN;
      if (!(n >= 1 && n <= 4096)) throw new LaunchUsageError(`${a} ${JSON.stringify(v)}: a whole number of ranks from 1 to 4096`);
      out.ranks = n;
    } else if (a === '--launcher') {
      const v = value();
      if (v !== 'mpirun' && v !== 'srun') throw new LaunchUsageError(`--launcher ${JSON.stringify(v)}: mpirun or srun`);
      if (v === 'srun' && !pmi2) throw new LaunchUsageError("--launcher srun: this tree's Open MPI has no Slurm PMI-2 support; use --launcher mpirun");
      out.launcher = v;
    } else if (a === '--json') out.json = true;
    else if (a === '--') {
      out.extra = argv.slice(i + 1);
      break;
    } else
      throw new LaunchUsageError(
        `--report-transport: unknown option ${a} (usage: mpistack-run --report-transport [-n N] [--launcher mpirun|srun] [--json] [-- launcher args])`,
      );
  }
  return out;
}

/** The launcher command of the probe job (pure): argv and the environment to add. */
export function probeCommand(a: ReportArgs, prefix: string, node: string): { argv: string[]; env: Record<string, string> } {
  // the tree's own bin/mpistack-run, which finds its tree (and so the binding) from its own path on every host
  const probe = [node, join(prefix, 'bin', 'mpistack-run'), '--transport-probe'];
  if (a.launcher === 'srun') return { argv: ['srun', '--mpi=pmi2', '-n', String(a.ranks), ...a.extra, ...probe], env: { ...REPORT_ENV } };
  // mpirun forwards OMPI_MCA_* itself; UCX_LOG_LEVEL must be exported to remote ranks by name
  return { argv: [join(prefix, 'bin', 'mpirun'), '-x', 'UCX_LOG_LEVEL', '-n', String(a.ranks), ...a.extra, ...probe], env: { ...REPORT_ENV } };
}

/** Run the probe job and print the report; the exit code is the launcher's, or 1 when ranks are missing. */
export async function reportMain(argv: readonly string[]): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url));
  const prefix = process.env.MPISTACK_PREFIX ?? dirname(dirname(dirname(here)));
  const a = parseReportArgs(argv, process.env, existsSync(join(prefix, 'lib', 'openmpi', 'mca_pmix_s2.so')));
  const cmd = probeCommand(a, prefix, process.execPath);
  const { code, output } = await new Promise<{ code: number; output: string }>((res) => {
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), { env: { ...process.env, ...cmd.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (e) => res({ code: 127, output: `${output}\ncannot start ${cmd.argv[0]}: ${e.message}` }));
    child.on('close', (c) => res({ code: c ?? 1, output }));
  });
  const ranks = parseReport(output);
  const { lines, warnings } = formatReport(ranks, a.ranks);
  if (a.json) process.stdout.write(`${JSON.stringify({ command: cmd.argv, ranks, warnings }, null, 2)}\n`);
  else {
    process.stdout.write(`transport report: ${cmd.argv.join(' ')}\n`);
    for (const l of lines) process.stdout.write(`${l}\n`);
  }
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  if (code !== 0 || ranks.length !== a.ranks) {
    process.stderr.write(`mpistack-run --report-transport: the probe job exited ${code}; its output:\n${output}\n`);
    return code || 1;
  }
  return 0;
}
