// Why two packed trees differ, without diffoscope: a real ELF whose .rodata
// differs is named with its section and the differing strings; a text file
// with its lines; a mode, a link target, a missing file, the archive order.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeTarGz, type TarEntry } from '../../scripts/pack/tar.js';
import { diffEntries, extractForDiff, formatDiffs, listTreeEntries, onlyIn, printableStrings } from '../../scripts/repro/treediff.js';

function tree(root: string, constant: string, text: string, mode: number, link: string, extra: boolean) {
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'share'), { recursive: true });
  writeFileSync(join(root, 'p.c'), `#include <stdio.h>\nconst char *v = "${constant}";\nint main(void) { puts(v); return 0; }\n`);
  execFileSync('gcc', ['-O1', '-o', join(root, 'bin', 'prog'), join(root, 'p.c')]);
  writeFileSync(join(root, 'share', 'notes.txt'), `same line\n${text}\nsame end\n`);
  writeFileSync(join(root, 'share', 'tool.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'share', 'tool.sh'), mode);
  writeFileSync(join(root, 'share', 'blob.bin'), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from('unchanged-string')]));
  symlinkSync(link, join(root, 'share', 'link'));
  if (extra) writeFileSync(join(root, 'share', 'extra.txt'), 'only here\n');
}

test('trees: every difference named, and why', () => {
  const base = mkdtempSync(join(tmpdir(), 'mpistack-treediff-'));
  const a = join(base, 'a');
  const b = join(base, 'b');
  tree(a, 'built-at-1000', 'time 1000', 0o755, 'notes.txt', false);
  tree(b, 'built-at-2000', 'time 2000', 0o644, 'blob.bin', true);
  const diffs = diffEntries(listTreeEntries(a), listTreeEntries(b), a, b);
  const by = new Map(diffs.map((d) => [d.path, d]));
  const report = formatDiffs(diffs).join('\n');
  assert.match(by.get('bin/prog')!.why, /^ELF: sections .*\.rodata/, report);
  assert.ok(
    by.get('bin/prog')!.details.some((l) => l.includes('built-at-1000')),
    report,
  );
  assert.ok(
    by.get('bin/prog')!.details.some((l) => l.includes('built-at-2000')),
    report,
  );
  assert.is(by.get('share/notes.txt')!.why, 'text: 1 lines only in the first build, 1 only in the second');
  assert.equal(by.get('share/notes.txt')!.details, ['  - "time 1000"', '  + "time 2000"']);
  assert.is(by.get('share/tool.sh')!.why, 'mode 755 vs 644');
  assert.is(by.get('share/link')!.why, 'link target notes.txt vs blob.bin');
  assert.is(by.get('share/extra.txt')!.why, 'only in the second build (file)');
  assert.not.ok(by.has('share/blob.bin'), 'identical files are not reported');
  assert.not.ok(by.has('p.c') && by.get('p.c')!.why.startsWith('binary'), report);
});

test('tarballs: same files in another order is reported as the archive order', async () => {
  const base = mkdtempSync(join(tmpdir(), 'mpistack-treediff-tar-'));
  writeFileSync(join(base, 'x'), 'x\n');
  writeFileSync(join(base, 'y'), 'y\n');
  const e = (p: string): TarEntry => ({ path: `top/${p}`, type: 'file', size: 2, source: join(base, p) });
  const top: TarEntry = { path: 'top', type: 'dir' };
  await writeTarGz(join(base, 'one.tar.gz'), [top, e('x'), e('y')], 0);
  await writeTarGz(join(base, 'two.tar.gz'), [top, e('y'), e('x')], 0);
  const ea = await extractForDiff(join(base, 'one.tar.gz'), join(base, 'ua'));
  const eb = await extractForDiff(join(base, 'two.tar.gz'), join(base, 'ub'));
  const diffs = diffEntries(ea, eb, join(base, 'ua'), join(base, 'ub'));
  assert.is(diffs.length, 1, formatDiffs(diffs).join('\n'));
  assert.is(diffs[0].path, '(archive order)');
  assert.match(diffs[0].details.join('\n'), /first build: top\/x, top\/y[\s\S]*second build: top\/y, top\/x/);
});

test('strings and multiset differences', () => {
  assert.equal(printableStrings(Buffer.from('\0abcdefg\0ab\0hijklmn')), ['abcdefg', 'hijklmn']);
  assert.equal(onlyIn(['a', 'b', 'b', 'c'], ['b', 'c', 'd']), { a: ['a', 'b'], b: ['d'], moreA: 0, moreB: 0 });
  assert.equal(onlyIn(['1', '2', '3', '4', '5', '6'], [], 4).moreA, 2);
});

test.run();
