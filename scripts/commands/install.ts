// mpistack install <tarball> --dest DIR: checked, confined unpacking of a packed tree.
import { UsageError } from '../foundation/errors.js';
import { install } from '../pack/install.js';
import { parseOptions } from './_options.js';

const HELP = 'usage: mpistack install <mpistack-*.tar.gz> --dest DIR [--sums SHA256SUMS] [--force]';

export const describe = 'unpack a packed tarball into DIR after checking SHA256SUMS, refusing entries that escape DIR';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    {
      args: argv,
      allowPositionals: true,
      options: {
        dest: { type: 'string' },
        sums: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [tarball] = positionals;
  if (positionals.length !== 1 || tarball === undefined || !values.dest) throw new UsageError(HELP);
  const r = await install({ tarball, dest: values.dest, sums: values.sums, force: values.force, log: (l) => console.log(`install: ${l}`) });
  console.log(`${r.root}: ${r.entries} entries, ${r.checked} checked against the manifest, ${r.ms} ms\n  . ${r.root}/env.sh`);
  return 0;
}
