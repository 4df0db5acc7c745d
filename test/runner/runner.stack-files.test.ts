// The e2e files a second stack's run leaves out are exactly those that never
// read MPISTACK_E2E_PREFIX (directly or through the cluster helpers' e2ePrefix).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STACK_INDEPENDENT } from '../helpers/suites.js';

// the TypeScript sources (dist/test/runner -> test/e2e)
const e2e = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'e2e');

test('STACK_INDEPENDENT lists every e2e file that does not use the stack prefix, and no other', () => {
  const files = readdirSync(e2e).filter((f) => f.endsWith('.test.ts'));
  assert.ok(files.length > 5, `e2e files found in ${e2e}`);
  const independent = files
    .filter((f) => !/MPISTACK_E2E_PREFIX|e2ePrefix\(/.test(readFileSync(join(e2e, f), 'utf8')))
    .map((f) => `e2e/${f.replace(/\.ts$/, '.js')}`)
    .sort();
  assert.equal([...STACK_INDEPENDENT].sort(), independent);
});

test.run();
