#!/usr/bin/env node
// mpistack command line. Each subcommand lives in scripts/commands/<name>.ts
// and exports `describe` (one line) and `run(argv)` (the exit status it ends
// with when it does not throw); a file whose name starts with `_` is the
// commands' own helper, not a command. The one place an error becomes an exit
// status: an MpistackError's type says it (foundation/errors.ts: 2 for a
// UsageError, 1 for a failure) and its report() is what is printed; any other
// error is a failure, its message printed.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exitCodeOf, MpistackError } from './foundation/errors.js';

interface Command {
  describe: string;
  run(argv: string[]): Promise<number>;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

function available(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.js') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
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
  const text = err instanceof MpistackError ? err.report() : err instanceof Error ? err.message : String(err);
  console.error(`mpistack ${name}: ${text}`);
  if (process.env.MPISTACK_DEBUG && err instanceof Error) console.error(err.stack);
  process.exitCode = exitCodeOf(err);
}
