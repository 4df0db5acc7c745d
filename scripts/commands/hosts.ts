// mpistack hosts --from-pbs FILE [--out FILE]: a PBS_NODEFILE (a host a line,
// repeated once per core) as an Open MPI hostfile (one line a host, slots=N).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatHostfile, fromPbsNodefile, HostfileError, parseHostfile, totalSlots } from '../cluster/hostfile.js';
import { UsageError } from '../foundation/errors.js';
import { writeReplace } from '../pack/fsutil.js';
import { parseOptions } from './_options.js';

export const describe = 'convert a PBS_NODEFILE into an Open MPI hostfile (slots=N), or check a hostfile';

const HELP = `usage: mpistack hosts --from-pbs FILE [--out FILE]
       mpistack hosts --check FILE
  --from-pbs FILE   a PBS_NODEFILE (Torque's $PBS_NODEFILE: each host once per core)
  --out FILE        write the Open MPI hostfile there (default: standard output)
  --check FILE      parse an Open MPI hostfile, print its hosts and total slots`;

/** A file the command line names: one that cannot be read is a UsageError. */
function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message} (give the path of ${what})`, { cause: e });
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    {
      args: argv,
      options: {
        'from-pbs': { type: 'string' },
        out: { type: 'string' },
        check: { type: 'string' },
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
  if (values.check) {
    const entries = parseHostfile(readText(values.check, 'an Open MPI hostfile'), values.check);
    process.stdout.write(formatHostfile(entries));
    console.error(`${entries.length} host(s), ${totalSlots(entries)} slot(s)`);
    return 0;
  }
  const from = values['from-pbs'];
  if (!from) throw new UsageError(`--from-pbs FILE or --check FILE is required\n\n${HELP}`);
  const entries = fromPbsNodefile(readText(from, 'a PBS_NODEFILE'), from);
  if (entries.length === 0) throw new HostfileError(from, null, 'names no host (a PBS_NODEFILE has one host name a line)');
  const out = formatHostfile(entries);
  if (values.out) {
    let isDir = false;
    try {
      isDir = statSync(values.out).isDirectory();
    } catch {
      /* a new file */
    }
    if (isDir) throw new UsageError(`--out ${values.out} is a directory: give the path of the hostfile to write, e.g. ${join(values.out, 'hostfile')}`);
    writeReplace(values.out, out, 0o644);
  } else process.stdout.write(out);
  return 0;
}
