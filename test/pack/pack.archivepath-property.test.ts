// Issue 15, item 6: the archive path and link checks against random trees
// (fast-check), with the kernel as the oracle (test/helpers/confinement.ts):
// paths and link targets are drawn from `a b x . ..` (and an absolute one now
// and then), so `x -> .`, links through links, loops and dangling links all
// come up.
//  - resolver: on trees made on disk, a link the resolver says stays inside
//    never leads outside by the kernel, and one it says leaves does.
//  - unpack: whatever a random archive holds, when `unpack` accepts it no link
//    GNU tar made leads outside and nothing appeared outside the destination;
//    when it refuses, there is no destination.
//  - install: the same through install's own reader and checks.
//  - no false alarm: archives of plain trees (no `..`, no absolute path, links
//    to plain names, nothing under a link) are always accepted.
// The generated names never include the destination's own name, so a walk
// that leaves the destination cannot come back into it: a step outside shows
// as an escape at the end.
import fc from 'fast-check';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ArchiveReadError, UnsafeArchiveError } from '../../scripts/engine/errors.js';
import { unpack } from '../../scripts/engine/unpack.js';
import { InstallError, install } from '../../scripts/pack/install.js';
import { kernelVerdict, symlinksUnder } from '../helpers/confinement.js';
import { rawTar, rawTarGz, type RawEntry } from '../helpers/rawtar.js';
import { rawTarball } from './installable.js';
import { checkEntryPath, ConfinementChecker, resolveLink } from '../../scripts/foundation/archivepath.js';

export const RUNS = { resolver: 500, unpack: 150, install: 150, plain: 100 };

const work = mkdtempSync(join(tmpdir(), 'mpistack-archive-prop-'));
let n = 0;
/** A fresh sandbox: <s>/o1/o2/o3/dest is the destination, <s>/o1/o2/o3/outside must stay empty. */
function sandbox(): { top: string; base: string; dest: string; outside: string } {
  const top = join(work, `s${n++}`);
  const base = join(top, 'o1', 'o2', 'o3');
  mkdirSync(join(base, 'outside'), { recursive: true });
  return { top, base, dest: join(base, 'dest'), outside: join(base, 'outside') };
}
/** Everything in the sandbox but the destination: must not change. */
function around(s: { top: string; dest: string }): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (p === s.dest) continue;
      out.push(p);
      if (lstatSync(p).isDirectory() && !lstatSync(p).isSymbolicLink()) walk(p);
    }
  };
  walk(s.top);
  return out;
}

const name = fc.constantFrom('a', 'b', 'x');
const comp = fc.oneof({ weight: 6, arbitrary: name }, { weight: 1, arbitrary: fc.constant('..') }, { weight: 1, arbitrary: fc.constant('.') });
const target = fc.oneof(
  { weight: 12, arbitrary: fc.array(comp, { minLength: 1, maxLength: 7 }).map((c) => c.join('/')) },
  { weight: 1, arbitrary: fc.array(name, { minLength: 1, maxLength: 3 }).map((c) => `/${c.join('/')}`) },
);
const plainPath = fc.array(name, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));
const anyPath = fc.oneof(
  { weight: 8, arbitrary: plainPath },
  { weight: 1, arbitrary: fc.array(comp, { minLength: 1, maxLength: 4 }).map((c) => c.join('/')) },
  { weight: 1, arbitrary: plainPath.map((p) => `/${p}`) },
);
type GenEntry = { kind: 'file' | 'dir' | 'symlink' | 'hardlink'; path: string; target: string };
const entry = (path: fc.Arbitrary<string>) =>
  fc.record({
    kind: fc.constantFrom<GenEntry['kind']>('file', 'dir', 'symlink', 'symlink', 'hardlink'),
    path,
    target,
  });

function toRaw(e: GenEntry, prefix: string): RawEntry {
  const path = prefix + e.path;
  switch (e.kind) {
    case 'dir':
      return { name: `${path}/`, type: '5' };
    case 'file':
      return { name: path, type: '0', body: Buffer.from(path) };
    case 'symlink':
      return { name: path, type: '2', linkname: e.target };
    case 'hardlink':
      return { name: path, type: '1', linkname: prefix + e.target.replace(/^\/+/, '') };
  }
}

let escapesSeen = 0;
let insideSeen = 0;

test(`resolver vs kernel (${RUNS.resolver} runs): 'inside' never escapes, 'outside' always does`, () => {
  fc.assert(
    fc.property(fc.array(fc.record({ link: fc.boolean(), path: plainPath, target }), { minLength: 1, maxLength: 8 }), (spec) => {
      const s = sandbox();
      mkdirSync(s.dest);
      const links = new Map<string, string>();
      for (const e of spec) {
        // make it on disk without ever going through a symlink (that is not what this property is about)
        const parts = e.path.split('/');
        let ok = true;
        for (let i = 1; i <= parts.length && ok; i++) {
          const p = join(s.dest, ...parts.slice(0, i));
          const k =
            existsSync(p) ||
            (() => {
              try {
                lstatSync(p);
                return true;
              } catch {
                return false;
              }
            })();
          const last = i === parts.length;
          if (k) {
            if (lstatSync(p).isSymbolicLink() || last) ok = false;
            continue;
          }
          if (last && e.link) {
            symlinkSync(e.target, p);
            links.set(e.path, e.target);
          } else mkdirSync(p);
        }
      }
      for (const [path, t] of links) {
        const r = resolveLink(path, t, links);
        const v = kernelVerdict(join(s.dest, path), s.dest);
        if (r.kind === 'inside') {
          insideSeen++;
          assert.is.not(v, 'escape', `${path} -> ${t} escapes by the kernel; links: ${JSON.stringify([...links])}`);
        }
        if (r.kind === 'outside') {
          escapesSeen++;
          assert.is(v, 'escape', `${path} -> ${t}: ${r.why}; kernel: ${v}; links: ${JSON.stringify([...links])}`);
        }
      }
      rmSync(s.top, { recursive: true, force: true });
    }),
    { numRuns: RUNS.resolver },
  );
  assert.ok(escapesSeen > 50 && insideSeen > 50, `the generator makes both kinds (${escapesSeen} outside, ${insideSeen} inside)`);
});

test(`unpack (${RUNS.unpack} runs): accepted archives leave no link leading outside and nothing outside; refused ones leave nothing`, async () => {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(entry(anyPath), { minLength: 1, maxLength: 8 }), fc.boolean(), async (entries, withTop) => {
      const s = sandbox();
      const archive = join(s.top, 'a.tar');
      writeFileSync(archive, rawTar(entries.map((e) => toRaw(e, withTop ? 'pkg/' : ''))));
      const before = around(s);
      const err = await unpack(archive, s.dest).then(
        () => null,
        (e: unknown) => e,
      );
      if (err) {
        assert.ok(
          err instanceof UnsafeArchiveError || err instanceof ArchiveReadError,
          `unexpected ${err instanceof Error ? err.message : JSON.stringify(err)}`,
        );
        assert.not.ok(existsSync(s.dest), `refused (${(err as Error).message}) but the destination exists`);
      } else {
        accepted++;
        for (const l of symlinksUnder(s.dest)) assert.is.not(kernelVerdict(l, s.dest), 'escape', `${l} leads outside; entries ${JSON.stringify(entries)}`);
      }
      assert.equal(around(s), before, `something appeared outside the destination; entries ${JSON.stringify(entries)}`);
      assert.equal(readdirSync(s.outside), []);
      rmSync(s.top, { recursive: true, force: true });
    }),
    { numRuns: RUNS.unpack },
  );
  assert.ok(accepted > 10, `only ${accepted} archives accepted: the property says little`);
});

/** What install writes, made the simple way (mkdir -p follows links, as install's would): used on archives install accepted. */
function materialize(entries: RawEntry[], into: string): void {
  for (const e of entries) {
    const c = checkEntryPath(String(e.name));
    if (!c.ok) continue;
    const to = join(into, c.path);
    mkdirSync(dirname(to), { recursive: true });
    if (e.type === '5') mkdirSync(to, { recursive: true });
    else if (e.type === '2') symlinkSync(String(e.linkname), to);
    else if (e.type === '1')
      copyFileSync(join(into, checkEntryPath(String(e.linkname)).ok ? (checkEntryPath(String(e.linkname)) as { path: string }).path : ''), to);
    else writeFileSync(to, e.body ?? '');
  }
}

test(`install (${RUNS.install} runs): what install accepts, made on disk, has no link leading out of its top directory and nothing outside`, async () => {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(entry(anyPath), { minLength: 1, maxLength: 8 }), async (entries) => {
      const raw: RawEntry[] = [{ name: 'mpistack/', type: '5' }, ...entries.map((e) => toRaw(e, 'mpistack/'))];
      const s = sandbox();
      mkdirSync(s.dest);
      const tarball = rawTarball(s.top, 't', raw);
      const before = around(s);
      const err = await install({ tarball, dest: s.dest }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.instance(err, InstallError, `unexpected ${err instanceof Error ? err.message : JSON.stringify(err)}`);
      assert.equal(readdirSync(s.dest), [], 'a failed install leaves DEST as it was');
      assert.equal(around(s), before);
      const kind = (err as InstallError).kind;
      // past the path and link checks it fails only for want of a manifest: these are the accepted ones
      if (kind !== 'unsafe-entry' && kind !== 'format') {
        accepted++;
        materialize(raw, s.dest);
        for (const l of symlinksUnder(join(s.dest, 'mpistack')))
          assert.is.not(kernelVerdict(l, join(s.dest, 'mpistack')), 'escape', `${l}; entries ${JSON.stringify(raw)}`);
        assert.equal(readdirSync(s.dest), ['mpistack']);
        assert.equal(readdirSync(s.outside), []);
      }
      rmSync(s.top, { recursive: true, force: true });
    }),
    { numRuns: RUNS.install },
  );
  assert.ok(accepted > 10, `only ${accepted} tarballs got past the checks`);
});

test(`no false alarm (${RUNS.plain} runs): plain trees with links to plain names are accepted, by the checker and by unpack`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.record({ path: plainPath, link: fc.boolean(), target: plainPath }), { selector: (e) => e.path, minLength: 1, maxLength: 8 }),
      async (spec) => {
        // keep it plain: no entry below a link, no entry that is both a directory (by its children) and a file
        // and links lead to names that are not links themselves (so no loops)
        const links = new Set(spec.filter((e) => e.link).map((e) => e.path));
        const used = new Set(
          spec.flatMap((e) =>
            e.path
              .split('/')
              .slice(0, -1)
              .map((_, i, a) => a.slice(0, i + 1).join('/')),
          ),
        );
        const underLink = (p: string) => [...links].some((l) => p === l || p.startsWith(`${l}/`));
        const kept = spec.filter(
          (e) =>
            !used.has(e.path) &&
            ![...links].some((l) => e.path.startsWith(`${l}/`)) &&
            (!e.link || !underLink(`${e.path.split('/').slice(0, -1).concat(e.target).join('/')}`)),
        );
        const entries: RawEntry[] = kept.map((e) =>
          e.link ? { name: `pkg/${e.path}`, type: '2', linkname: e.target } : { name: `pkg/${e.path}`, type: '0', body: Buffer.from('x') },
        );
        const checker = new ConfinementChecker({ allowRootEntry: true });
        for (const e of entries)
          assert.is(checker.add({ path: String(e.name), kind: e.type === '2' ? 'symlink' : 'file', linkTarget: e.linkname as string | undefined }), undefined);
        assert.equal(checker.finish(), []);
        const s = sandbox();
        const archive = join(s.top, 'p.tar.gz');
        writeFileSync(archive, rawTarGz(entries));
        await unpack(archive, s.dest);
        rmSync(s.top, { recursive: true, force: true });
      },
    ),
    { numRuns: RUNS.plain },
  );
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
