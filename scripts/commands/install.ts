// mpistack install <tarball> --dest DIR: checked, confined unpacking of a packed tree.
import { parseArgs } from 'node:util';
import { install } from '../pack/install.js';

export const describe = 'unpack a packed tarball into DIR after checking SHA256SUMS, refusing entries that escape DIR';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dest: { type: 'string' },
      sums: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length !== 1 || !values.dest) {
    console.log('usage: mpistack install <mpistack-*.tar.gz> --dest DIR [--sums SHA256SUMS] [--force]');
    return values.help ? 0 : 2;
  }
  const r = await install({ tarball: positionals[0], dest: values.dest, sums: values.sums, force: values.force, log: (l) => console.log(`install: ${l}`) });
  console.log(`${r.root}: ${r.entries} entries, ${r.checked} checked against the manifest, ${r.ms} ms\n  . ${r.root}/env.sh`);
  return 0;
}
