// mpistack doctor: are the build prerequisites installed? Prints the exact
// apt-get line for what is missing; --install-prereqs runs it (root, Debian).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { aptInstallLine, dpkgInstalled, prereqPackages, requiredCommands } from '../engine/prereqs.js';
import { parseOptions } from './_options.js';

export const describe = 'check build prerequisites and print the apt-get line that installs what is missing';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(`${d}/${cmd}`));
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    { args: argv, options: { 'install-prereqs': { type: 'boolean', default: false } }, strict: true },
    'usage: mpistack doctor [--install-prereqs]',
  );
  const pkgs = prereqPackages();
  const debian = existsSync('/etc/debian_version');
  const state = debian ? await dpkgInstalled(pkgs) : new Map<string, boolean>();
  const missingPkgs = pkgs.filter((p) => !state.get(p));
  const missingCmds = requiredCommands.filter((c) => !onPath(c));
  for (const p of pkgs) console.log(`${state.get(p) ? 'ok     ' : 'MISSING'} package ${p}`);
  for (const c of requiredCommands) console.log(`${missingCmds.includes(c) ? 'MISSING' : 'ok     '} command ${c}`);
  if (!missingPkgs.length && !missingCmds.length) {
    console.log('all prerequisites present');
    return 0;
  }
  const line = aptInstallLine(missingPkgs.length ? missingPkgs : pkgs);
  console.log(`\nto install what is missing, run as root:\n  apt-get update && ${line}`);
  if (!values['install-prereqs']) return 1;
  if (!debian) {
    console.error('--install-prereqs: this is not a Debian system; install the packages above by hand');
    return 1;
  }
  if (process.getuid?.() !== 0) {
    console.error('--install-prereqs: must run as root');
    return 1;
  }
  for (const cmd of [['apt-get', 'update', '-q'], line.split(' ')]) {
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}
