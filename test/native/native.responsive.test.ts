// recvAsync keeps the event loop free (a 10 ms timer keeps firing); many concurrent recvAsync resolve correctly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

/** what rank 1 of programs/responsive.ts reports */
interface Responsive {
  woke: string;
  ticksDuringWait: number;
  received: number;
  wrong: number;
}

test('a 10 ms timer keeps firing while recvAsync waits; 200 concurrent receives all match', async () => {
  const r = await runProgram<Responsive>(2, 'responsive');
  assert.is(r.code, 0, explain(r));
  const x = r.results.find((y) => y.rank === 1);
  assert.ok(x, explain(r));
  assert.is(x.woke, 'wake');
  // the sender waits 600 ms: a blocked loop would show 0 or 1 tick
  assert.ok(x.ticksDuringWait >= 5, `ticks during the wait: ${x.ticksDuringWait}`);
  assert.is(x.received, 200);
  assert.is(x.wrong, 0);
});

test.run();
