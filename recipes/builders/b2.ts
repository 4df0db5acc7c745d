// The b2 (Boost.Build) builder: the phases of a Boost-style package.
//
//   prepare    regenerate the b2 engine's bison grammar when the tree lacks it
//              (git exports such as Debian's orig tarball), and nothing else
//   configure  bootstrap.sh (builds b2/bjam, writes project-config.jam), then
//              write the user-config.jam that names the stack's own tools
//   build      b2/bjam ... install into the staging copy of the prefix
//   install    point the generated CMake configs at the final prefix
//
// b2 has no DESTDIR: it installs to `--prefix=<staging><prefix>`. The only
// files that remember that path are the CMake package configs, which compare
// their own location with the absolute install path; the install phase rewrites
// the staging path to the final prefix there so they read exactly as a direct
// install would.
//
// Everything version-dependent comes from the recipe as data (`B2Plan`); this
// file only turns a plan into commands.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile, appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RecipeError, type BuildContext, type Builder, type Shell } from '../kit/index.js';

/** A generated parser the release tarballs ship but git exports do not. */
export interface Grammar {
  /** directory inside the source tree */
  dir: string;
  /** yacc input, relative to dir */
  input: string;
  /** generated C/C++ file, relative to dir; the header is generated next to it */
  output: string;
}

/** Where the user-config.jam lives and how b2 finds it. */
export interface UserConfigPlace {
  /** path inside the source tree */
  path: string;
  /** 'append' keeps what the tree already has there (the seed edited the tree's own file) */
  mode: 'write' | 'append';
  /** pass `--user-config=<abs path>` so no file in $HOME or BOOST_BUILD_PATH is read instead */
  passFlag: boolean;
}

/** What a b2 build of one version needs, resolved from a recipe's tables. */
export interface B2Plan {
  /** the engine bootstrap.sh builds: ./b2 or ./bjam in the source root */
  tool: 'b2' | 'bjam';
  bootstrapArgs: string[];
  userConfig: UserConfigPlace;
  userConfigLines: string[];
  /** b2 arguments without the target, jobs and install prefix */
  b2Args: string[];
  grammar?: Grammar;
  /** the CMake package configs are generated (rewrite staging paths in them) */
  cmakeConfigs: boolean;
}

/** Full b2 command line for the build+install phase. */
export function b2CommandLine(plan: B2Plan, srcDir: string, opts: { jobs: number; installPrefix: string }): string[] {
  const args = [...plan.b2Args, `-j${opts.jobs}`, `--prefix=${opts.installPrefix}`];
  if (plan.userConfig.passFlag) args.unshift(`--user-config=${join(srcDir, plan.userConfig.path)}`);
  return [`./${plan.tool}`, ...args, 'install'];
}

/** The user-config.jam text (one statement per line, with a header saying where it came from). */
export function userConfigText(plan: B2Plan): string {
  return ['# written by mpistack (recipe configure phase)', ...plan.userConfigLines, ''].join('\n');
}

/** Write or append the user-config.jam; returns its absolute path. */
async function writeUserConfig(plan: B2Plan, srcDir: string): Promise<string> {
  const file = join(srcDir, plan.userConfig.path);
  await mkdir(dirname(file), { recursive: true });
  if (plan.userConfig.mode === 'append') await appendFile(file, `\n${userConfigText(plan)}`);
  else await writeFile(file, userConfigText(plan));
  return file;
}

/**
 * The grammar command to run, or null when the generated file is already there
 * (release tarballs) or the version has no such grammar. `bison -y` is yacc
 * mode, as the engine's own build scripts expect; `-d` writes the header.
 */
function grammarCommand(plan: B2Plan, srcDir: string): { cwd: string; cmd: string; args: string[]; dir: string; output: string } | null {
  const g = plan.grammar;
  if (!g) return null;
  const cwd = join(srcDir, g.dir);
  if (existsSync(join(cwd, g.output))) return null;
  if (!existsSync(join(cwd, g.input))) throw new RecipeError(`b2 grammar source ${join(g.dir, g.input)} is missing and ${g.output} was not shipped`);
  return { cwd, cmd: 'bison', args: ['-y', '-d', '-o', g.output, g.input], dir: g.dir, output: g.output };
}

/**
 * Rewrite `from` (the staged prefix) to `to` (the final prefix) in the CMake
 * package configs under <stagedPrefix>/lib/cmake. Returns the files changed.
 */
export async function relocateCMakeConfigs(stagedPrefix: string, from: string, to: string): Promise<string[]> {
  const root = join(stagedPrefix, 'lib', 'cmake');
  if (!existsSync(root) || from === to) return [];
  const changed: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile() && ent.name.endsWith('.cmake')) {
        const text = await readFile(p, 'utf8');
        if (text.includes(from)) {
          await writeFile(p, text.split(from).join(to));
          changed.push(p);
        }
      }
    }
  };
  await walk(root);
  return changed;
}

/** Prepare hook: generate the grammar only when the tree lacks it. Returns whether bison ran. */
export async function regenerateGrammar(plan: B2Plan, srcDir: string, shell: Shell, env: NodeJS.ProcessEnv): Promise<boolean> {
  const c = grammarCommand(plan, srcDir);
  if (!c) return false;
  await shell.run(c.cmd, c.args, { cwd: c.cwd, env });
  if (!existsSync(join(c.cwd, c.output))) throw new RecipeError(`bison ran but ${join(c.dir, c.output)} is still missing`);
  return true;
}

/**
 * A b2 builder for one package: `planFor` resolves the package's tables for
 * the version and prefix being built (the recipe's data; the builder adds none).
 */
export function b2Builder(planFor: (version: string, prefix: string) => B2Plan): Builder {
  const p = (ctx: BuildContext) => planFor(ctx.version, ctx.prefix);
  return {
    name: 'b2',
    async prepare(ctx) {
      await regenerateGrammar(p(ctx), ctx.srcDir, ctx.shell, ctx.env);
    },
    async configure(ctx) {
      const plan = p(ctx);
      await ctx.shell.run('./bootstrap.sh', plan.bootstrapArgs, { cwd: ctx.srcDir, env: ctx.env });
      await writeUserConfig(plan, ctx.srcDir);
    },
    async build(ctx) {
      // b2 builds and installs in one run; the install goes to the staging copy of the prefix
      const [tool, ...args] = b2CommandLine(p(ctx), ctx.srcDir, { jobs: ctx.jobs, installPrefix: ctx.stagedPrefix });
      await ctx.shell.run(tool, args, { cwd: ctx.srcDir, env: ctx.env });
    },
    async install(ctx) {
      if (p(ctx).cmakeConfigs) await relocateCMakeConfigs(ctx.stagedPrefix, ctx.stagedPrefix, ctx.prefix);
    },
  };
}

/** The plan as one flat list: what `--dry-run` prints and a build cache hashes. */
export function planArgs(plan: B2Plan): string[] {
  return [
    ...plan.bootstrapArgs.map((a) => `bootstrap.sh ${a}`),
    ...plan.userConfigLines.map((l) => `${plan.userConfig.path}: ${l}`),
    ...plan.b2Args.map((a) => `${plan.tool} ${a}`),
  ];
}
