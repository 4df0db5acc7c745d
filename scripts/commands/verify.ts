// mpistack verify DIR: re-check every file of a packed tree against its manifest.
import { parseArgs } from 'node:util';
import { verifyTree } from '../pack/manifest.js';

export const describe = "re-check every file of an installed tree against its manifest (sha256, type, links)";

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help || positionals.length !== 1) {
    console.log('usage: mpistack verify DIR   (DIR: the mpistack/ directory of an unpacked tree)');
    return values.help ? 0 : 2;
  }
  const { manifest, problems, checked } = await verifyTree(positionals[0]);
  for (const p of problems) console.log(`${p.path}: ${p.problem}`);
  console.log(`mpistack ${manifest.version}: ${checked} entries checked, ${problems.length} problem(s)`);
  return problems.length ? 1 : 0;
}
