// spin, yield and adaptive all deliver async messages; adaptive is the default; bad names are rejected;
// a communicator served by the receive thread refuses synchronous receives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

test('each wait policy completes 100 async round trips', async () => {
  const r = await runProgram(2, 'policies');
  assert.is(r.code, 0, explain(r));
  const x = r.results.find((y) => y.rank === 0);
  assert.ok(x, explain(r));
  assert.is(x.defaultPolicy, 'adaptive');
  assert.is(x.spin, 100);
  assert.is(x.yield, 100);
  assert.is(x.adaptive, 100);
  assert.ok(x.badThrows);
  assert.ok(x.syncOnServedThrows, 'a synchronous recv on a communicator served by the receive thread is refused');
});

test.run();
