// Tags and sources kept apart, ANY_SOURCE/ANY_TAG, dup() channels separate (sync and async).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

/** what rank 0 of programs/matching.ts reports: `<payload>@<source>/<tag>` of each message, in the order received */
interface Received {
  got: string[];
  empty: boolean;
  asyncGot: string[];
}

test('messages match by (communicator, source, tag), wildcards included', async () => {
  const r = await runProgram<Received>(3, 'matching');
  assert.is(r.code, 0, explain(r));
  const x = r.results.find((y) => y.rank === 0);
  assert.ok(x, explain(r));
  assert.equal(x.got.slice(0, 2), ['w2t8@2/8', 'w1t8@1/8']);
  const tag7 = x.got.slice(2).sort();
  assert.equal(tag7, ['w1t7@1/7', 'w2t7@2/7'], 'world tag-7 messages, one per source, none from the side communicator');
  assert.ok(x.empty, 'nothing from the side communicator leaked into COMM_WORLD');
  assert.is(x.asyncGot[0], 's1t8@1/8');
  assert.is(x.asyncGot[1], 's2t7@2/7');
  assert.is(x.asyncGot[2], 's2t8@2/8', 'ANY_SOURCE with tag 8: only the one left');
  assert.is(x.asyncGot[3], 's1t7@1/7', 'source 1 with ANY_TAG: only the one left');
});

test.run();
