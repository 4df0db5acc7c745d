// Text files that name the build location: each kind gets the relative form
// its reader understands, so nothing needs a fix-up after unpacking and a
// tree moved again still works. The rules are data; `pack --explain` lists
// what each did.
import { readFileSync, rmSync } from 'node:fs';
import { writeReplace } from './fsutil.js';
import { join, posix } from 'node:path';

interface TextContext {
  /** absolute paths that mean "the tree" (build prefix, input directory) */
  aliases: string[];
  /** other build-machine paths recorded in record files: label -> path */
  others: Array<{ label: string; value: string }>;
  /** tree-relative path of the bundled node, when there is one */
  nodePath?: string;
}

export interface TextAction {
  file: string;
  rule: string;
  detail: string;
}

/** Replace every alias (longest first) with `to`. */
function replaceAliases(text: string, aliases: readonly string[], to: string): string {
  let out = text;
  for (const a of [...aliases].sort((x, y) => y.length - x.length)) out = out.split(a).join(to);
  return out;
}

/** `../..` from a file's directory up to the tree root ('.' for a file at the root). */
function upToRoot(file: string): string {
  const depth = posix.dirname(file) === '.' ? 0 : posix.dirname(file).split('/').length;
  return depth === 0 ? '.' : Array(depth).fill('..').join('/');
}

const SYSTEM_SHELLS = new Set(['/bin/sh', '/bin/bash', '/usr/bin/env']);

/**
 * New first line for a script, or undefined to keep it.
 *  - node scripts: a sh/JS polyglot that runs the tree's bundled node, found
 *    relative to the script's real location (works through symlinks, keeps
 *    the script's own path so its relative imports still resolve);
 *  - an interpreter inside the build location: `/usr/bin/env <name>`;
 *  - a system interpreter without arguments: `/usr/bin/env <name>`;
 *  - a system interpreter with arguments (`#!/usr/bin/perl -w`) is kept:
 *    `env` cannot pass arguments portably (`env -S` needs coreutils 8.30),
 *    and the absolute system path exists on every node.
 */
export function rewriteShebang(file: string, firstLine: string, ctx: TextContext): { lines: string[]; detail: string } | undefined {
  const m = /^#!\s*(\S+)(?:\s+(.*))?$/.exec(firstLine);
  if (!m) return undefined;
  const interp = m[1] ?? '';
  let args = m[2];
  args = args?.trim() ?? '';
  let name = posix.basename(interp);
  if (interp === '/usr/bin/env' || interp === '/bin/env') {
    const parts = args.split(/\s+/).filter((p) => p !== '-S');
    name = parts[0] ?? '';
    args = parts.slice(1).join(' ');
    if (!/^node(js)?$/.test(name)) return undefined;
  }
  if (/^node(js)?$/.test(name) && ctx.nodePath) {
    const rel = posix.relative(posix.dirname(file), ctx.nodePath);
    return {
      lines: [
        '#!/bin/sh',
        `':' //; here=$(dirname "$(readlink -f "$0" 2>/dev/null || printf %s "$0")"); exec "$here/${rel}" ${args ? `${args} ` : ''}"$0" "$@"`,
      ],
      detail: `node script: runs the bundled node at ${ctx.nodePath} (sh/JS polyglot header)`,
    };
  }
  if (SYSTEM_SHELLS.has(interp)) return undefined;
  const inTree = ctx.aliases.some((a) => interp.startsWith(a + '/'));
  if (args && !inTree) return undefined;
  if (args) return { lines: [`#!/usr/bin/env -S ${name} ${args}`], detail: `${interp} ${args} -> env -S ${name}` };
  return { lines: [`#!/usr/bin/env ${name}`], detail: `${interp} -> /usr/bin/env ${name}` };
}

interface Rule {
  name: string;
  match: RegExp;
  apply(file: string, text: string, ctx: TextContext): string | null | undefined;
}

/**
 * Files removed whatever their content (binary too): Python bytecode records
 * the build path in each code object; Python rewrites it on first import.
 */
const DELETE_RULES: readonly { name: string; match: RegExp }[] = [{ name: 'Python bytecode removed', match: /(^|\/)__pycache__\/[^/]+\.pyc$/ }];

/** Ordered rules; the first whose `match` fits the tree-relative path applies. `null` = delete the file. */
export const TEXT_RULES: readonly Rule[] = [
  {
    name: 'libtool archive removed',
    match: /\.la$/,
    apply: () => null, // absolute libdir= and dependency_libs; nothing at run time reads them
  },
  {
    name: 'pkg-config: ${pcfiledir}-relative',
    match: /\.pc$/,
    apply: (file, text, ctx) => replaceAliases(text, ctx.aliases, `\${pcfiledir}/${upToRoot(file)}`),
  },
  {
    name: 'Open MPI wrapper data: ${prefix}',
    match: /(^|\/)share\/(openmpi|pmix|prte|prrte)\/[^/]*-wrapper-data\.txt$/,
    apply: (_f, text, ctx) => replaceAliases(text, ctx.aliases, '${prefix}'),
  },
  {
    // Open MPI 4.x does not expand ${prefix} in these files: a setting that
    // names the build prefix cannot be made relative, so it is left for the
    // leak check to fail on (use OMPI_MCA_<name> in the environment instead);
    // comments are only text.
    name: 'MCA parameter files: comments neutralised',
    match: /^etc\/(openmpi|pmix|prte)-mca-params\.conf$/,
    apply: (_f, text, ctx) =>
      text
        .split('\n')
        .map((l) => (/^\s*#/.test(l) ? replaceAliases(l, ctx.aliases, '<prefix>') : l))
        .join('\n'),
  },
  {
    name: 'CMake config: ${CMAKE_CURRENT_LIST_DIR}-relative',
    match: /\.cmake$/,
    apply: (file, text, ctx) => replaceAliases(text, ctx.aliases, `\${CMAKE_CURRENT_LIST_DIR}/${upToRoot(file)}`),
  },
  {
    // mpi4py.get_config() reads this with configparser, which has no notion of
    // "this file's directory": the wrappers are named bare, found on PATH
    // (env.sh puts the tree's bin first); any other line naming the tree is
    // left for the leak check to report
    name: 'mpi4py mpi.cfg: wrappers by name',
    match: /(^|\/)site-packages\/mpi4py\/mpi\.cfg$/,
    apply: (_f, text, ctx) => {
      let out = text;
      for (const a of [...ctx.aliases].sort((x, y) => y.length - x.length)) out = out.split(`${a}/bin/`).join('');
      return out;
    },
  },
  {
    name: 'build record: paths as placeholders',
    match: /^share\/mpistack\/[^/]*\.json$/,
    apply: (_f, text, ctx) => {
      let out = text;
      for (const o of [...ctx.others].sort((a, b) => b.value.length - a.value.length)) out = out.split(o.value).join(`<${o.label}>`);
      return replaceAliases(out, ctx.aliases, '<prefix>');
    },
  },
];

/** Text, as far as pack and the tree diff care: no NUL byte in the first 8 KiB. */
export function isText(buf: Buffer): boolean {
  const n = Math.min(buf.length, 8192);
  for (let i = 0; i < n; i++) if (buf[i] === 0) return false;
  return true;
}

/** Apply the rules and the shebang rewrite to the given tree-relative files. */
export function rewriteTextFiles(root: string, files: readonly string[], ctx: TextContext): TextAction[] {
  const actions: TextAction[] = [];
  for (const file of files) {
    const abs = join(root, file);
    const del = DELETE_RULES.find((r) => r.match.test(file));
    if (del) {
      rmSync(abs);
      actions.push({ file, rule: del.name, detail: 'deleted' });
      continue;
    }
    const rule = TEXT_RULES.find((r) => r.match.test(file));
    const buf = readFileSync(abs);
    if (!isText(buf)) continue;
    let text = buf.toString('utf8');
    let changed = false;
    if (rule) {
      const out = rule.apply(file, text, ctx);
      if (out === null) {
        rmSync(abs);
        actions.push({ file, rule: rule.name, detail: 'deleted' });
        continue;
      }
      if (out !== undefined && out !== text) {
        text = out;
        changed = true;
        actions.push({ file, rule: rule.name, detail: 'rewritten' });
      }
    }
    if (text.startsWith('#!')) {
      const nl = text.indexOf('\n');
      const first = nl < 0 ? text : text.slice(0, nl);
      const sb = rewriteShebang(file, first, ctx);
      if (sb) {
        text = sb.lines.join('\n') + (nl < 0 ? '\n' : text.slice(nl));
        changed = true;
        actions.push({ file, rule: 'script shebang', detail: sb.detail });
      }
    }
    if (changed) writeReplace(abs, text);
  }
  return actions;
}
