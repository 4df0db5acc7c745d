#!/usr/bin/env node
// mpistack command line. Each subcommand lives in scripts/commands/<name>.ts
// and exports `describe` (one line) and `run(argv)` (returns the exit code).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface Command {
  describe: string;
  run(argv: string[]): Promise<number>;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

function available(): string[] {
  return readdirSync(commandsDir).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
}

async function load(name: string): Promise<Command> {
  return (await import(pathToFileURL(join(commandsDir, `${name}.js`)).href)) as Command;
}

async function usage(): Promise<string> {
  const lines = ['usage: mpistack <command> [options]', '', 'commands:'];
  for (const name of available()) lines.push(`  ${name.padEnd(20)} ${(await load(name)).describe}`);
  lines.push('', "run 'mpistack <command> --help' for a command's options");
  return lines.join('\n');
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h' || name === 'help') {
  console.log(await usage());
  process.exit(name ? 0 : 2);
}
if (!available().includes(name)) {
  console.error(`mpistack: unknown command '${name}'\n\n${await usage()}`);
  process.exit(2);
}
try {
  process.exitCode = await (await load(name)).run(rest);
} catch (err) {
  const e = err as Error & { report?: () => string };
  console.error(`mpistack ${name}: ${typeof e.report === 'function' ? e.report() : e.message}`);
  if (process.env.MPISTACK_DEBUG) console.error(e.stack);
  process.exitCode = 1;
}
