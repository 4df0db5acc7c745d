// npm run bench -- <name> [args]: runs bench/<name>.ts, which measures ours
// against a baseline in the same run and prints ratios. No name: list them.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface Bench {
  describe: string;
  run(args: string[]): Promise<void>;
}

const dir = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== 'index.js' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  console.log(`usage: npm run bench -- <${names.join('|')}> [args]`);
  for (const n of names) console.log(`  ${n.padEnd(10)} ${((await import(pathToFileURL(join(dir, `${n}.js`)).href)) as Bench).describe}`);
  process.exit(name ? 2 : 0);
}
await ((await import(pathToFileURL(join(dir, `${name}.js`)).href)) as Bench).run(args);
