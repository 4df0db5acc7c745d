// The autotools builder: ./configure --prefix=<prefix> <args>; make -jN;
// make install DESTDIR=<staging>. In-tree build, as the release tarballs
// expect and the seed did by hand. `autotoolsFromGit` adds one step for a
// git export (a tag archive or a Debian orig made from one): no generated
// configure, so the project's own bootstrap script runs first.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Builder } from '../kit/index.js';

export const autotools: Builder = {
  name: 'autotools',
  async configure(ctx) {
    await ctx.shell.run('./configure', [`--prefix=${ctx.prefix}`, ...ctx.configureArgs], { cwd: ctx.srcDir, env: ctx.env });
  },
  async build(ctx) {
    await ctx.shell.run('make', [`-j${ctx.jobs}`], { cwd: ctx.srcDir, env: ctx.env });
  },
  async install(ctx) {
    await ctx.shell.run('make', ['install', `DESTDIR=${ctx.stageDir}`], { cwd: ctx.srcDir, env: ctx.env });
  },
};

/** One bootstrap step of a git export: the command (in the tree's top directory) and why it is needed. */
export interface BootstrapStep {
  argv: readonly string[];
  why: string;
}

/** Every file of a tree stamped with SOURCE_DATE_EPOCH (links themselves too): after a bootstrap, make finds nothing stale. */
export const STAMP_TREE: readonly string[] = ['sh', '-c', 'find . -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +'];

/**
 * autotools, with `bootstrap` (e.g. the tree's ./autogen.sh) run in prepare
 * when the tree has no configure; a release tarball has one and skips them.
 * After them every file gets SOURCE_DATE_EPOCH as its time, so make sees
 * nothing stale (a Makefile.in older than its inputs would rerun automake).
 */
export function autotoolsFromGit(bootstrap: readonly BootstrapStep[]): Builder {
  return {
    ...autotools,
    // the bootstrap commands are part of the name: the build cache keys a builder by its name and phases' source text
    name: `autotools+${bootstrap.map((b) => b.argv.join(' ')).join('; ')}`,
    async prepare(ctx) {
      if (existsSync(join(ctx.srcDir, 'configure'))) return;
      for (const { argv } of bootstrap) await ctx.shell.run(argv[0] ?? '', argv.slice(1), { cwd: ctx.srcDir, env: ctx.env });
      await ctx.shell.run(STAMP_TREE[0], STAMP_TREE.slice(1), { cwd: ctx.srcDir, env: ctx.env });
    },
  };
}

/** The commands the builder runs, as argv lists (the benchmark's bash baseline runs the same). */
export function autotoolsCommands(prefix: string, configureArgs: string[], jobs: number, stageDir: string): string[][] {
  return [
    ['./configure', `--prefix=${prefix}`, ...configureArgs],
    ['make', `-j${jobs}`],
    ['make', 'install', `DESTDIR=${stageDir}`],
  ];
}
