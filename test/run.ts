#!/usr/bin/env node
// Test runner: every test file runs in its own node process (a crash or a hang
// in one cannot take the others down), with a per-file time limit. Prints the
// plain closing line "N passed, N failed" that CI reads.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { STACK_INDEPENDENT } from './helpers/suites.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
// --stack-only: the e2e files that examine MPISTACK_E2E_PREFIX, for a second stack's run (.ci/run)
const stackOnly = args.includes('--stack-only');
const [suite = 'unit', filter] = args.filter((a) => !a.startsWith('--'));

const fileLimitMs = Number(process.env.MPISTACK_TEST_FILE_TIMEOUT_MS ?? (suite === 'e2e' ? 60 * 60_000 : 5 * 60_000));

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name === 'fixtures') continue;
      out.push(...walk(p));
    } else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const all = walk(here)
  .filter((f) => {
    const inE2e = relative(here, f).startsWith('e2e/');
    return suite === 'e2e' ? inE2e : !inE2e;
  })
  .filter((f) => !filter || f.includes(filter))
  .filter((f) => !stackOnly || !STACK_INDEPENDENT.includes(relative(here, f)));

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

function runFile(file: string): Promise<Counts & { code: number | null }> {
  return new Promise((resolvePromise) => {
    // each file gets its own TMPDIR, removed when it ends, so that scratch
    // trees a test leaves behind (or cannot clean after a crash) do not pile up
    const tmp = mkdtempSync(join(tmpdir(), 'mpistack-test-'));
    const child = spawn(process.execPath, ['--enable-source-maps', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    let text = '';
    const onData = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      text += chunk.toString();
      stream.write(chunk);
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    const timer = setTimeout(() => {
      process.stderr.write(`\n[test] ${relative(here, file)} exceeded ${fileLimitMs} ms: killing it\n`);
      child.kill('SIGKILL');
    }, fileLimitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!process.env.MPISTACK_TEST_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
      const plain = stripVTControlCharacters(text);
      const num = (label: string) =>
        Number(
          /^\s*(\w+):\s+(\d+)/m.exec(
            plain
              .split('\n')
              .filter((l) => l.trim().startsWith(label))
              .pop() ?? '',
          )?.[2] ?? 0,
        );
      const total = num('Total:');
      const passed = num('Passed:');
      const skipped = num('Skipped:');
      let failed = Math.max(0, total - passed - skipped);
      if (code !== 0 && failed === 0) failed = 1; // crashed or timed out before uvu could report
      resolvePromise({ passed, failed, skipped, code });
    });
  });
}

const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
const failedFiles: string[] = [];
for (const file of all) {
  const name = relative(here, file);
  process.stdout.write(`\n=== ${name}\n`);
  const r = await runFile(file);
  totals.passed += r.passed;
  totals.failed += r.failed;
  totals.skipped += r.skipped;
  if (r.code !== 0) failedFiles.push(`${name} (exit ${r.code})`);
}
if (all.length === 0) {
  console.error(`no test files for suite '${suite}'`);
  process.exit(1);
}
if (failedFiles.length) console.log(`\nfailed files:\n  ${failedFiles.join('\n  ')}`);
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(failedFiles.length || totals.failed ? 1 : 0);
