// Batch job files for the packed stack (seed 6.2): what a user submits to
// Torque (cluster.req + qsub.sh) or Slurm (an sbatch script). Every job runs
//     . <stack>/env.sh; mpirun [-hostfile <$PBS_NODEFILE as HOST slots=N>] mpistack-run script.js [args]
// on a stack installed at the same path on every node; under Slurm,
// `--launcher srun` writes `srun --mpi=pmi2 mpistack-run ...` instead (direct
// launch through Slurm's PMI-2, no mpirun and no orted on the nodes). Nothing is written
// unless every value is valid, and the files appear together (staged in a
// temporary directory next to them, then renamed).
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { MpistackError } from '../foundation/errors.js';
import { shellQuote } from '../foundation/sh.js';

export type Scheduler = 'torque' | 'slurm';
/** What starts the ranks: Open MPI's mpirun (every scheduler), or Slurm's srun (direct launch, --mpi=pmi2). */
export type Launcher = 'mpirun' | 'srun';

interface JobRequest {
  scheduler: Scheduler;
  nodes: number;
  coresPerNode: number;
  /** per node, as the user writes it: 8gb, 512mb, 2GB, 1tb */
  memory: string;
  /** where the job runs (the shared filesystem); STDOUT/STDERR go there */
  workdir: string;
  /** the unpacked mpistack/ tree (holds env.sh), at the same path on every node */
  stack: string;
  /** the runtime script (mpistack-run script.js) */
  script: string;
  args?: string[];
  /** where the files are written (default: workdir) */
  out?: string;
  /** job name (default: mpistack) */
  name?: string;
  /** log file relative to workdir, for stdout and stderr (default: <name>.log) */
  log?: string;
  /** extra mpirun arguments, e.g. ['--mca', 'btl', 'tcp,self'] */
  mpirunArgs?: string[];
  /** default mpirun; srun only with --scheduler slurm */
  launcher?: Launcher;
}

/** A job that cannot be written with these values: names the option, the value and the fix (exit 1: a value can be fine and its directory missing). */
export class JobError extends MpistackError {
  override name = 'JobError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

interface Memory {
  amount: number;
  unit: 'b' | 'kb' | 'mb' | 'gb' | 'tb';
}

const UNITS: Memory['unit'][] = ['b', 'kb', 'mb', 'gb', 'tb'];
const UNIT_BYTES: Record<Memory['unit'], number> = { b: 1, kb: 2 ** 10, mb: 2 ** 20, gb: 2 ** 30, tb: 2 ** 40 };

/**
 * What the schedulers and MPI take, each bound with its reason (a value past
 * it is refused, never rounded or written in exponent form).
 */
export const LIMITS = {
  nodes: { max: 2 ** 31 - 1, why: 'Torque and Slurm hold node counts in 32-bit integers' },
  coresPerNode: { max: 65533, why: "Slurm's ntasks-per-node is a 16-bit field (65534, 65535 are reserved)" },
  ranks: { max: 2 ** 31 - 1, why: 'an MPI rank is an int: nodes x cores-per-node ranks must fit' },
  memoryBytes: { max: 2 ** 53, why: 'more than 8 PiB per node is not a real request' },
} as const;

/** "8gb" -> { 8, 'gb' }; Torque's units (b kb mb gb tb, any case, "8G" too). The unit is required: a bare number is refused. */
export function parseMemory(text: string): Memory {
  const t = text.trim();
  if (/^[0-9]+$/.test(t)) {
    throw new JobError(
      '--memory',
      `--memory ${JSON.stringify(text)}: no unit (a bare number would be taken as bytes): write e.g. ${t}gb or ${t}mb; units: ${UNITS.join(', ')}`,
    );
  }
  const m = /^([0-9]+)\s*([kmgt]?b?)$/i.exec(t);
  const unit = m ? m[2].toLowerCase().replace(/^([kmgt])$/, '$1b') : '';
  if (!m || !UNITS.includes(unit as Memory['unit'])) {
    throw new JobError('--memory', `--memory ${JSON.stringify(text)}: not an amount with a unit (write e.g. 8gb or 512mb; units: ${UNITS.join(', ')})`);
  }
  const amount = Number(m[1]);
  if (amount < 1) throw new JobError('--memory', `--memory ${JSON.stringify(text)}: must be more than 0`);
  if (!Number.isSafeInteger(amount) || amount * UNIT_BYTES[unit as Memory['unit']] > LIMITS.memoryBytes.max) {
    throw new JobError(
      '--memory',
      `--memory ${JSON.stringify(text)}: too large (at most ${LIMITS.memoryBytes.max / UNIT_BYTES.tb} tb: ${LIMITS.memoryBytes.why})`,
    );
  }
  return { amount, unit: unit as Memory['unit'] };
}

/** A count option's text ("4") as a number, refused when not a whole number in [1, max]: never rounded, never 1e+29. */
export function parseCount(option: '--nodes' | '--cores-per-node', text: string): number {
  const limit = option === '--nodes' ? LIMITS.nodes : LIMITS.coresPerNode;
  if (!/^[0-9]+$/.test(text.trim())) throw new JobError(option, `${option} ${JSON.stringify(text)}: not a whole number`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n > limit.max) throw new JobError(option, `${option} ${text.trim()}: at most ${limit.max} (${limit.why})`);
  return count(option, n);
}

const torqueMemory = (m: Memory): string => `${m.amount}${m.unit}`;
/** Slurm's --mem takes K, M, G, T (MB when bare); bytes round up to 1K. */
const slurmMemory = (m: Memory): string => (m.unit === 'b' ? `${Math.max(1, Math.ceil(m.amount / 1024))}K` : `${m.amount}${m.unit[0].toUpperCase()}`);

function count(option: '--nodes' | '--cores-per-node', n: number): number {
  const limit = option === '--nodes' ? LIMITS.nodes : LIMITS.coresPerNode;
  if (!Number.isSafeInteger(n) || n < 1) throw new JobError(option, `${option} ${n}: must be a whole number of at least 1`);
  if (n > limit.max) throw new JobError(option, `${option} ${n}: at most ${limit.max} (${limit.why})`);
  return n;
}

/** A value for cluster.req's KEY="value" lines: refused when the double quotes cannot hold it as is. */
function reqValue(option: string, s: string): string {
  if (/["$`\\\n]/.test(s))
    throw new JobError(option, `${option} ${JSON.stringify(s)}: cluster.req values cannot hold ", $, \`, \\ or a newline (rename the path)`);
  return s;
}

function directive(option: string, s: string): string {
  if (/[\s"'#]/.test(s))
    throw new JobError(option, `${option} ${JSON.stringify(s)}: a #PBS/#SBATCH directive cannot hold spaces, quotes or # (choose a path without them)`);
  return s;
}

interface ResolvedJob extends Required<Omit<JobRequest, 'args' | 'mpirunArgs' | 'launcher'>> {
  launcher: Launcher;
  args: string[];
  mpirunArgs: string[];
  mem: Memory;
}

/** Check every value; paths become absolute. Throws JobError, writes nothing. */
export function resolveJob(req: JobRequest): ResolvedJob {
  if (req.scheduler !== 'torque' && req.scheduler !== 'slurm')
    throw new JobError('--scheduler', `--scheduler ${JSON.stringify(req.scheduler)}: use torque or slurm`);
  const launcher = req.launcher ?? 'mpirun';
  if (launcher !== 'mpirun' && launcher !== 'srun') throw new JobError('--launcher', `--launcher ${JSON.stringify(launcher)}: use mpirun or srun`);
  if (launcher === 'srun' && req.scheduler !== 'slurm')
    throw new JobError('--launcher', `--launcher srun needs --scheduler slurm (srun is Slurm's launcher); use --launcher mpirun with ${req.scheduler}`);
  if (launcher === 'srun' && req.mpirunArgs?.length)
    throw new JobError(
      '--mpirun-arg',
      '--mpirun-arg is for --launcher mpirun; with srun pass Open MPI parameters as OMPI_MCA_* variables in the job environment',
    );
  count('--nodes', req.nodes);
  count('--cores-per-node', req.coresPerNode);
  if (req.nodes * req.coresPerNode > LIMITS.ranks.max) {
    throw new JobError(
      '--nodes',
      `--nodes ${req.nodes} x --cores-per-node ${req.coresPerNode} = ${req.nodes * req.coresPerNode} ranks: at most ${LIMITS.ranks.max} (${LIMITS.ranks.why})`,
    );
  }
  const mem = parseMemory(req.memory);
  const name = req.name ?? 'mpistack';
  if (!/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/.test(name))
    throw new JobError('--name', `--name ${JSON.stringify(name)}: 1-15 letters, digits, _ . - starting with a letter (Torque's limit)`);
  const workdir = resolve(req.workdir);
  if (!existsSync(workdir) || !statSync(workdir).isDirectory())
    throw new JobError('--workdir', `--workdir ${workdir}: no such directory (create it on the shared filesystem first)`);
  const stack = resolve(req.stack);
  if (!existsSync(join(stack, 'env.sh')))
    throw new JobError('--stack', `--stack ${stack}: no env.sh there (give the unpacked mpistack/ directory, installed at this same path on every node)`);
  // direct launch needs Open MPI's Slurm PMI-2 client in the tree (the seed's 1.6.5 has none: its ranks would wait in MPI_Init)
  if (launcher === 'srun' && !existsSync(join(stack, 'lib', 'openmpi', 'mca_pmix_s2.so')))
    throw new JobError(
      '--launcher',
      `--launcher srun: the Open MPI in ${stack} has no Slurm PMI-2 support (lib/openmpi/mca_pmix_s2.so; ` +
        "the seed's 1.6.5 is built without it): use --launcher mpirun",
    );
  if (!req.script) throw new JobError('script', 'no script given: put the runtime script after --, e.g. mpistack job ... -- job.js');
  const script = isAbsolute(req.script) ? req.script : resolve(workdir, req.script);
  if (!existsSync(script) || !statSync(script).isFile()) throw new JobError('script', `script ${script}: no such file (paths are taken relative to --workdir)`);
  const log = req.log ?? `${name}.log`;
  // a plain file name, so that the log lands in --workdir itself: not '.', '..', a path, or a NUL
  if (!log || isAbsolute(log) || log.includes('/') || log === '.' || log === '..' || log.includes('\0') || dirname(resolve(workdir, log)) !== workdir) {
    throw new JobError('--log', `--log ${JSON.stringify(log)}: a file name inside --workdir, e.g. run.log`);
  }
  const out = resolve(req.out ?? workdir);
  for (const [opt, v] of [
    ['--workdir', workdir],
    ['--stack', stack],
    ['script', script],
    ['--log', log],
  ] as const)
    reqValue(opt, v);
  directive('--workdir', workdir);
  directive('--log', log);
  return {
    scheduler: req.scheduler,
    nodes: req.nodes,
    coresPerNode: req.coresPerNode,
    memory: req.memory,
    mem,
    workdir,
    stack,
    script,
    args: req.args ?? [],
    out,
    name,
    log,
    mpirunArgs: req.mpirunArgs ?? [],
    launcher,
  };
}

function runLine(j: ResolvedJob, hostfile: boolean): string {
  // srun: Slurm starts every rank itself and hands it the job's layout through PMI-2 (Open MPI's pmix s2 component)
  if (j.launcher === 'srun') return ['srun', '--mpi=pmi2', 'mpistack-run', shellQuote(j.script), ...j.args.map(shellQuote)].join(' ');
  return [
    'mpirun',
    ...(hostfile ? ['-hostfile', '"$hostfile"'] : []),
    ...j.mpirunArgs.map(shellQuote),
    'mpistack-run',
    shellQuote(j.script),
    ...j.args.map(shellQuote),
  ].join(' ');
}

function body(j: ResolvedJob): string[] {
  return [
    'set -eu',
    `cd ${shellQuote(j.workdir)}`,
    '# the stack sits at the same path on every node (seed 6.2); env.sh puts its bin/ first (the tree finds itself)',
    `. ${shellQuote(join(j.stack, 'env.sh'))}`,
  ];
}

/** Torque: cluster.req (seed 6.2's fields) and qsub.sh (with #PBS directives, so plain `qsub qsub.sh` works too). */
function torqueFiles(j: ResolvedJob): Record<string, { text: string; mode: number }> {
  const qsub = join(j.out, 'qsub.sh');
  const req = [
    '#',
    '# Required settings',
    '#',
    `MEMORY="${torqueMemory(j.mem)}"`,
    `WORK_DIR="${j.workdir}"`,
    `COMMAND="${reqValue('--out', qsub)}"`,
    '',
    '#',
    '# Optional settings',
    '#',
    `NUM_NODES="${j.nodes}"       # default is 1`,
    `NUM_CORES="${j.coresPerNode}"       # default is 1`,
    `STDOUT="${j.log}"    # file relative to WORK_DIR.  default is no output`,
    `STDERR="${j.log}"    # file relative to WORK_DIR.  default is no output`,
    '',
  ].join('\n');
  const sh = [
    '#!/bin/bash',
    `#PBS -N ${j.name}`,
    `#PBS -l nodes=${j.nodes}:ppn=${j.coresPerNode}`,
    `#PBS -l mem=${torqueMemory(j.mem)}`,
    "# no -d (working directory): sbatch refuses it when it reads these lines for Slurm's qsub; the script cds itself",
    `#PBS -o ${join(j.workdir, j.log)}`,
    '#PBS -j oe',
    `# written by mpistack job: submit with 'submit -f cluster.req' or 'qsub qsub.sh'`,
    ...body(j),
    "# Slurm's qsub wrapper (slurm-wlm-torque) runs this under sbatch and sets no PBS_NODEFILE: make one from the allocation",
    'if [ -z "${PBS_NODEFILE:-}" ] && [ -n "${SLURM_JOB_ID:-}" ] && command -v generate_pbs_nodefile >/dev/null 2>&1; then',
    '  PBS_NODEFILE=$(generate_pbs_nodefile); export PBS_NODEFILE',
    'fi',
    ': "${PBS_NODEFILE:?is not set: run this through qsub (Torque writes it: each node once per core), or set it to such a file}"',
    '# Open MPI 4 gives a host named on a single line all its cores (orte_set_default_slots=cores), so the',
    '# nodefile goes to mpirun as HOST slots=N lines (N = its lines): one rank per core the job holds, no -n needed',
    'hostfile=$(mktemp "${TMPDIR:-/tmp}/mpistack-hosts.XXXXXX")',
    'trap \'rm -f "$hostfile"\' EXIT',
    "awk 'NF { if (!($1 in n)) order[++k] = $1; n[$1]++ } " +
      'END { for (i = 1; i <= k; i++) print order[i] " slots=" n[order[i]] }\' "$PBS_NODEFILE" > "$hostfile"',
    runLine(j, true),
    '',
  ].join('\n');
  return { 'cluster.req': { text: req, mode: 0o644 }, 'qsub.sh': { text: sh, mode: 0o755 } };
}

/** Slurm: one sbatch script; mpirun reads the allocation itself (Open MPI's slurm ras/plm). */
function slurmFiles(j: ResolvedJob): Record<string, { text: string; mode: number }> {
  const sh = [
    '#!/bin/bash',
    `#SBATCH --job-name=${j.name}`,
    `#SBATCH --nodes=${j.nodes}`,
    `#SBATCH --ntasks-per-node=${j.coresPerNode}`,
    `#SBATCH --mem=${slurmMemory(j.mem)}`,
    `#SBATCH --chdir=${j.workdir}`,
    `#SBATCH --output=${join(j.workdir, j.log)}`,
    `#SBATCH --error=${join(j.workdir, j.log)}`,
    `# written by mpistack job: submit with 'sbatch ${j.name}.sbatch'`,
    ...body(j),
    ': "${SLURM_JOB_ID:?is not set: submit this script with sbatch}"',
    j.launcher === 'srun'
      ? '# direct launch: srun starts one rank per task of the allocation (no -n: --nodes x --ntasks-per-node), no mpirun'
      : '# no -n and no hostfile: mpirun takes the nodes and slots of the allocation (SLURM_* variables)',
    `exec ${runLine(j, false)}`,
    '',
  ].join('\n');
  return { [`${j.name}.sbatch`]: { text: sh, mode: 0o755 } };
}

/** Validate, stage in a temporary directory inside `out`, then rename each file into place. Returns the paths written. */
export function writeJob(req: JobRequest): { files: string[]; job: ResolvedJob } {
  const j = resolveJob(req);
  const files = j.scheduler === 'torque' ? torqueFiles(j) : slurmFiles(j);
  mkdirSync(j.out, { recursive: true });
  const stage = mkdtempSync(join(j.out, '.mpistack-job-'));
  try {
    for (const [name, f] of Object.entries(files)) writeFileSync(join(stage, name), f.text, { mode: f.mode });
    const written: string[] = [];
    for (const name of Object.keys(files)) {
      renameSync(join(stage, name), join(j.out, name));
      written.push(join(j.out, name));
    }
    return { files: written, job: j };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
