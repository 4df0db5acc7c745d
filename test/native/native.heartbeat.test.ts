// The receive thread answers heartbeat requests natively while JS is in a long synchronous loop.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

for (const [mode, how] of [
  ['spin', 'in a plain JS loop'],
  ['poll-spin', 'in a JS loop right after receiving on its own thread (the receive thread parked)'],
  ['poll-other', 'receiving on its own thread the whole time, but on another communicator'],
] as const)
  test(`heartbeat replies with the payload while the rank is busy ${how}`, async () => {
    const r = await runProgram(2, 'heartbeat', [mode], { timeoutMs: 90_000 });
    assert.is(r.code, 0, explain(r));
    const x = r.results.find((y) => y.rank === 0);
    assert.ok(x, explain(r));
    assert.equal(x.replies, ['busy:1', 'busy:1', 'busy:1'], explain(r));
    assert.not.ok(x.doneBeforeReplies, 'all replies came while rank 1 was still in its busy loop');
    assert.is(x.done, 'done');
  });

test.run();
