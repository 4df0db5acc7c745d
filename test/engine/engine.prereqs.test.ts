// doctor and install-prereqs.sh use one package list: doctor parses the
// script's PKGS array. The parse must see every package the script installs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { aptInstallLine, parsePrereqList, prereqPackages, prereqScriptPath } from '../../scripts/engine/prereqs.js';

test('the list doctor checks is the list bash expands from the script', () => {
  const script = prereqScriptPath();
  const fromBash = execFileSync('bash', ['-c', `eval "$(sed -n '/^PKGS=(/,/)/p' "$1")"; printf '%s\\n' "\${PKGS[@]}"`, '_', script], { encoding: 'utf8' })
    .trim()
    .split('\n');
  assert.equal(prereqPackages(), fromBash);
  for (const p of ['build-essential', 'gfortran', 'make', 'perl', 'bison', 'patchelf', 'xz-utils', 'bzip2', 'python3']) assert.ok(fromBash.includes(p), p);
  assert.ok(readFileSync(script, 'utf8').includes('"${PKGS[@]}"') || readFileSync(script, 'utf8').includes('${PKGS[@]}'));
});

test('the install line is the exact apt-get command', () => {
  assert.is(aptInstallLine(['gcc', 'make']), 'apt-get install -y --no-install-recommends gcc make');
  assert.equal(parsePrereqList('x\nPKGS=(a b\n  c)\n'), ['a', 'b', 'c']);
});

test.run();
