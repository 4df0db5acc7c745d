// mpistack job --scheduler torque|slurm --nodes N --cores-per-node C --memory 8gb
//              --workdir DIR [--stack DIR] [--out DIR] -- script.js [args]
import { parseCount, writeJob, type Launcher, type Scheduler } from '../cluster/job.js';
import { UsageError } from '../foundation/errors.js';
import { parseOptions } from './_options.js';

export const describe = 'write the batch job files for the stack: Torque (cluster.req + qsub.sh) or Slurm (an sbatch script)';

const HELP = `usage: mpistack job --scheduler torque|slurm --nodes N --cores-per-node C --memory 8gb
                    --workdir DIR [--stack DIR] [--out DIR] [options] -- script.js [args]
  --scheduler S        torque: cluster.req + qsub.sh (#PBS directives, mpirun -hostfile $PBS_NODEFILE)
                       slurm: NAME.sbatch (#SBATCH directives, mpirun inside the allocation)
  --nodes N            nodes to ask for (1 to 2147483647)
  --cores-per-node C   cores (MPI ranks) per node (1 to 65533); rank 0 is the client, the rest servers
  --memory M           memory per node: a number and its unit, b, kb, mb, gb or tb (8gb; the unit is required)
  --workdir DIR        where the job runs (an existing directory on the shared filesystem)
  --stack DIR          the unpacked mpistack/ tree, at the same path on every node
                       (default: $MPISTACK_ROOT, set by the tree's env.sh)
  --out DIR            where to write the files (default: --workdir)
  --name NAME          job name (default: mpistack)
  --log FILE           stdout+stderr file name in --workdir (default: NAME.log; no path, not . or ..)
  --launcher L         mpirun (default) or srun (--scheduler slurm only: direct launch, srun --mpi=pmi2 mpistack-run)
  --mpirun-arg ARG     one more mpirun argument (repeatable), e.g. --mpirun-arg=--mca --mpirun-arg=btl --mpirun-arg=tcp,self
script.js is taken relative to --workdir; it must exist.`;

export async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const opts = dash < 0 ? argv : argv.slice(0, dash);
  const tail = dash < 0 ? [] : argv.slice(dash + 1);
  const { values, positionals } = parseOptions(
    {
      args: opts,
      allowPositionals: true,
      options: {
        scheduler: { type: 'string' },
        nodes: { type: 'string' },
        'cores-per-node': { type: 'string' },
        memory: { type: 'string' },
        workdir: { type: 'string' },
        stack: { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string' },
        log: { type: 'string' },
        'mpirun-arg': { type: 'string', multiple: true },
        launcher: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const { scheduler, nodes, memory, workdir } = values;
  const cores = values['cores-per-node'];
  if (scheduler === undefined || nodes === undefined || cores === undefined || memory === undefined || workdir === undefined) {
    const missing = ['scheduler', 'nodes', 'cores-per-node', 'memory', 'workdir'].filter((k) => values[k as keyof typeof values] === undefined);
    throw new UsageError(`missing ${missing.map((k) => `--${k}`).join(', ')}\n\n${HELP}`);
  }
  const stack = values.stack ?? process.env.MPISTACK_ROOT;
  if (!stack) throw new UsageError('--stack DIR is required (the unpacked mpistack/ tree), or source its env.sh so MPISTACK_ROOT is set');
  const [script, ...args] = [...positionals, ...tail];
  const { files } = writeJob({
    scheduler: scheduler as Scheduler,
    nodes: parseCount('--nodes', nodes),
    coresPerNode: parseCount('--cores-per-node', cores),
    memory,
    workdir,
    stack,
    out: values.out,
    name: values.name,
    log: values.log,
    mpirunArgs: values['mpirun-arg'],
    launcher: values.launcher as Launcher | undefined,
    script: script ?? '',
    args,
  });
  for (const f of files) console.log(`wrote ${f}`);
  return 0;
}
