// The autotools builder: ./configure --prefix=<prefix> <args>; make -jN;
// make install DESTDIR=<staging>. In-tree build, as the release tarballs
// expect and the seed did by hand.
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

/** The commands the builder runs, as argv lists (the benchmark's bash baseline runs the same). */
export function autotoolsCommands(prefix: string, configureArgs: string[], jobs: number, stageDir: string): string[][] {
  return [
    ['./configure', `--prefix=${prefix}`, ...configureArgs],
    ['make', `-j${jobs}`],
    ['make', 'install', `DESTDIR=${stageDir}`],
  ];
}
