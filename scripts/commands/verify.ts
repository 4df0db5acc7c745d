// mpistack verify DIR: re-check every file of a packed tree against its manifest.
import { UsageError } from '../foundation/errors.js';
import { verifyPackedTree } from '../pack/packmanifest.js';
import { parseOptions } from './_options.js';

const HELP = 'usage: mpistack verify DIR   (DIR: the mpistack/ directory of an unpacked tree)';

export const describe = 're-check every file of an installed tree against its manifest (sha256, type, links)';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    { args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h', default: false } } },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [dir] = positionals;
  if (positionals.length !== 1 || dir === undefined) throw new UsageError(HELP);
  const { manifest, problems, checked } = await verifyPackedTree(dir);
  for (const p of problems) console.log(`${p.path}: ${p.problem}`);
  console.log(`mpistack ${manifest.version}: ${checked} entries checked, ${problems.length} problem(s)`);
  return problems.length ? 1 : 0;
}
