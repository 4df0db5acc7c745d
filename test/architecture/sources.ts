// What the TypeScript files of the repository import and export, read with the
// TypeScript compiler's own parser (no regular expressions): the input of the
// layering test (ARCHITECTURE.md's rooms) and of the unused-export check.
//
// Paths are repository-relative and posix (`scripts/engine/engine.ts`). A
// relative specifier is resolved the way NodeNext resolves it for our sources:
// `./x.js` is `./x.ts`, `./x.mjs` is `./x.mts`. Bare specifiers (`node:fs`,
// `listr2`) are packages, not edges. A computed `import(url)` is not an edge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface SourceFile {
  /** repository-relative posix path */
  path: string;
  text: string;
}

export interface ImportRef {
  /** the specifier as written */
  specifier: string;
  /** 1-based line of the statement */
  line: number;
  /** `import type`, `export type ... from`, or every named binding a type */
  typeOnly: boolean;
  /** names taken from the module; '*' for a namespace import, a dynamic import or `export * from` */
  names: { imported: string; local: string }[];
  /** re-exported (`export ... from`) rather than imported */
  reexport: boolean;
}

export interface Edge extends ImportRef {
  from: string;
  /** the resolved repository-relative path (may name a file outside the set, e.g. under test/) */
  to: string;
}

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

/** Every import, re-export and literal dynamic import of one file. */
export function importsOf(file: SourceFile): ImportRef[] {
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: ImportRef[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const names: ImportRef['names'] = [];
      let allTypes = clause?.isTypeOnly ?? false;
      if (clause?.name) names.push({ imported: 'default', local: clause.name.text });
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.push({ imported: '*', local: bindings.name.text });
      if (bindings && ts.isNamedImports(bindings)) {
        for (const e of bindings.elements) names.push({ imported: (e.propertyName ?? e.name).text, local: e.name.text });
        if (!clause?.name && bindings.elements.length && bindings.elements.every((e) => e.isTypeOnly)) allTypes = true;
      }
      out.push({ specifier: node.moduleSpecifier.text, line: lineOf(sf, node), typeOnly: allTypes, names, reexport: false });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const names: ImportRef['names'] = [];
      const clause = node.exportClause;
      if (!clause || ts.isNamespaceExport(clause)) names.push({ imported: '*', local: clause ? clause.name.text : '*' });
      else for (const e of clause.elements) names.push({ imported: (e.propertyName ?? e.name).text, local: e.name.text });
      out.push({ specifier: node.moduleSpecifier.text, line: lineOf(sf, node), typeOnly: node.isTypeOnly, names, reexport: true });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length >= 1 &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      const spec = node.arguments[0].text;
      out.push({ specifier: spec, line: lineOf(sf, node), typeOnly: false, names: [{ imported: '*', local: '*' }], reexport: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const name = node.qualifier ? (ts.isIdentifier(node.qualifier) ? node.qualifier.text : node.qualifier.left.getText(sf)) : '*';
      out.push({ specifier: node.argument.literal.text, line: lineOf(sf, node), typeOnly: true, names: [{ imported: name, local: name }], reexport: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The repository path a relative specifier names, or null for a package (`node:fs`, `listr2`). */
export function resolveSpecifier(from: string, specifier: string, known: ReadonlySet<string>): string | null {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null;
  const joined = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = joined.endsWith('.js')
    ? [`${joined.slice(0, -3)}.ts`, joined]
    : joined.endsWith('.mjs')
      ? [`${joined.slice(0, -4)}.mts`, joined]
      : [joined, `${joined}.ts`, `${joined}/index.ts`];
  return candidates.find((c) => known.has(c)) ?? candidates[0];
}

/** The import edges among `files` (an edge may point outside the set: its `to` is still resolved). */
export function edgesOf(files: readonly SourceFile[], known: ReadonlySet<string> = new Set(files.map((f) => f.path))): Edge[] {
  const edges: Edge[] = [];
  for (const f of files) {
    for (const ref of importsOf(f)) {
      const to = resolveSpecifier(f.path, ref.specifier, known);
      if (to !== null) edges.push({ ...ref, from: f.path, to });
    }
  }
  return edges;
}

/** Names a file exports itself (declarations and `export { a, b }` without `from`). */
export function ownExportsOf(file: SourceFile): { name: string; line: number }[] {
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: { name: string; line: number }[] = [];
  const exported = (n: ts.Node) => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st) && !st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const e of st.exportClause.elements) out.push({ name: e.name.text, line: lineOf(sf, e) });
    } else if (ts.isExportAssignment(st)) {
      out.push({ name: 'default', line: lineOf(sf, st) });
    } else if (exported(st)) {
      if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.push({ name: d.name.text, line: lineOf(sf, d) });
      } else if (
        (ts.isFunctionDeclaration(st) ||
          ts.isClassDeclaration(st) ||
          ts.isInterfaceDeclaration(st) ||
          ts.isTypeAliasDeclaration(st) ||
          ts.isEnumDeclaration(st)) &&
        st.name
      ) {
        out.push({ name: st.name.text, line: lineOf(sf, st) });
      }
    }
  }
  return out;
}

/** Every `.ts` file under the given repository folders (skipping build output), read from `root`. */
export function readSources(root: string, folders: readonly string[]): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(posix.join(root, rel)).sort()) {
      const r = `${rel}/${name}`;
      if (statSync(posix.join(root, r)).isDirectory()) {
        if (name === 'node_modules' || name === 'build' || name === 'fixtures') continue;
        walk(r);
      } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        out.push({ path: r, text: readFileSync(posix.join(root, r), 'utf8') });
      }
    }
  };
  for (const f of folders) walk(f);
  return out;
}

/** The repository root: the nearest directory above this module holding mpistack's package.json (from test/ and dist/test/ alike). */
export function repoRoot(): string {
  let dir = posix.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(posix.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'mpistack') return dir;
    } catch {
      // not here
    }
    const up = posix.dirname(dir);
    if (up === dir) throw new Error(`no mpistack package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
