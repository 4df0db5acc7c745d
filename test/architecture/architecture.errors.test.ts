// One error root for the builder: every error class of scripts/ and recipes/
// derives from MpistackError (foundation/errors.ts), none has a `details`
// field (uvu's reporter calls details.split() and silently loses a failure
// whose details is not a string), and no code throws a bare Error. The exit
// status is on the type: 2 for a UsageError, 1 for any other failure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import ts from 'typescript';
import { PackError } from '../../scripts/pack/run.js';
import { exitCodeOf, MpistackError, UsageError } from '../../scripts/foundation/errors.js';
import { SanityError } from '../../recipes/kit/index.js';
import { readSources, repoRoot } from './sources.js';

const sources = readSources(repoRoot(), ['scripts', 'recipes']);

interface ClassInfo {
  file: string;
  name: string;
  base: string | undefined;
  members: string[];
}

function classesOf(path: string, text: string): ClassInfo[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: ClassInfo[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isClassDeclaration(n) && n.name) {
      const ext = n.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression.getText(sf);
      const members = n.members.flatMap((m) => (m.name && ts.isIdentifier(m.name) ? [m.name.text] : []));
      // constructor parameter properties (readonly details: string[]) are fields too
      for (const m of n.members) {
        if (ts.isConstructorDeclaration(m)) for (const p of m.parameters) if (ts.getModifiers(p)?.length && ts.isIdentifier(p.name)) members.push(p.name.text);
      }
      out.push({ file: path, name: n.name.text, base: ext, members });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function bareErrorThrows(path: string, text: string): string[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isThrowStatement(n) && ts.isNewExpression(n.expression) && n.expression.expression.getText(sf) === 'Error') {
      out.push(`${path}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

const classes = sources.flatMap((f) => classesOf(f.path, f.text));
const byName = new Map(classes.map((c) => [c.name, c]));
const errorClasses = classes.filter((c) => /Error$/.test(c.name));

test('every error class of scripts/ and recipes/ derives from MpistackError', () => {
  assert.ok(errorClasses.length >= 20, `only ${errorClasses.length} error classes found`);
  const rootOf = (c: ClassInfo, seen = new Set<string>()): string => {
    if (c.name === 'MpistackError' || !c.base || seen.has(c.name)) return c.name;
    seen.add(c.name);
    const base = byName.get(c.base);
    return base ? rootOf(base, seen) : c.base;
  };
  const strays = errorClasses.filter((c) => rootOf(c) !== 'MpistackError').map((c) => `${c.file}: ${c.name} extends ${c.base ?? '(nothing)'}`);
  assert.equal(strays, []);
});

test('no error class has a `details` field (uvu loses failures whose details is not a string: call a list `lines`)', () => {
  assert.equal(
    errorClasses.filter((c) => c.members.includes('details')).map((c) => `${c.file}: ${c.name}`),
    [],
  );
});

test('no bare `throw new Error` in scripts/ or recipes/', () => {
  assert.equal(
    sources.flatMap((f) => bareErrorThrows(f.path, f.text)),
    [],
  );
});

test('the exit status is on the type: usage 2, failure 1, anything else 1; report() is the message unless the type says more', () => {
  assert.is(exitCodeOf(new UsageError('--prefix is required')), 2);
  assert.is(exitCodeOf(new SanityError('openmpi', 'files', 'missing')), 1);
  assert.is(exitCodeOf(new PackError('leak check', '2 leaks', ['a', 'b'])), 1);
  assert.is(exitCodeOf(new TypeError('a bug')), 1);
  assert.is(exitCodeOf('a string'), 1);
  assert.is(new MpistackError('plain').report(), 'plain');
  assert.is(new PackError('leak check', '2 leaks', ['a', 'b']).report(), 'leak check: 2 leaks\n  a\n  b');
});

test.run();
