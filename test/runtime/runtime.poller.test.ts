// Issue 19: when the JavaScript thread polls for an expected message
// (runtime/poller.ts), with a recording transport and a clock the test moves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Poller, type PollerOptions } from '../../runtime/poller.js';
import type { Transport } from '../../runtime/transport.js';

/** A transport that records each poll's window; `onPoll` may advance the clock (the time spent polling). */
function recorder(onPoll: (us: number) => void = () => {}) {
  const polls: number[] = [];
  const transport = {
    rank: 0,
    size: 2,
    send() {},
    start() {},
    poll(us: number) {
      polls.push(us);
      onPoll(us);
      return 0;
    },
    enableHeartbeat() {},
    setHeartbeatPayload() {},
    close() {},
  } satisfies Transport;
  return { transport, polls };
}

function setup(opts: Partial<PollerOptions> = {}) {
  let clock = 0; // ms
  const { transport, polls } = recorder();
  const poller = new Poller(transport, { maxUs: 200, initialUs: 200, turnBudgetMs: 2, now: () => clock, ...opts });
  /** one wait: poll, `us` pass, the message arrives */
  const wait = (us: number): void => {
    poller.poll();
    clock += us / 1000;
    poller.arrived();
  };
  return { poller, polls, wait, advance: (ms: number) => (clock += ms) };
}

const nextTurn = () => new Promise((r) => setImmediate(r));

test('polls with the full window while waits are short', async () => {
  const { poller, polls, wait } = setup();
  for (let i = 0; i < 5; i++) {
    wait(10);
    await nextTurn();
  }
  assert.equal(polls, [200, 200, 200, 200, 200]);
  assert.is(poller.window, 200);
});

test('one long wait (a GC, a descheduled peer) does not switch polling off', async () => {
  const { poller, polls, wait } = setup();
  wait(10);
  await nextTurn();
  wait(5000);
  await nextTurn();
  assert.is(poller.window, 200, 'a short wait among the recent ones keeps the window');
  wait(10);
  assert.equal(polls, [200, 200, 200]);
});

test('only when every recent wait was long does polling stop; one short wait turns it back on', async () => {
  const { poller, polls, wait } = setup();
  for (let i = 0; i < 8; i++) {
    wait(1000);
    await nextTurn();
  }
  assert.is(poller.window, 0, 'eight long waits: an idle peer or long commands');
  const before = polls.length;
  poller.poll(); // expected, but not polled
  assert.is(polls.length, before);
  await nextTurn();
  poller.arrived(); // came by the receive thread: a wait of 0 ms on this clock
  assert.is(poller.window, 200);
});

test('the turn budget: polling pauses after turnBudgetMs of one turn, and the poll it cut off runs in the next turn', async () => {
  const { poller, polls, advance } = setup({ turnBudgetMs: 2 });
  poller.poll();
  poller.arrived();
  advance(2.5); // this turn has polled for longer than its budget
  poller.poll();
  assert.is(polls.length, 1, 'not polled in the spent turn');
  await nextTurn();
  assert.is(polls.length, 2, 'polled from the next turn, still expected');
  poller.arrived();
  // nothing expected when the turn ends: no extra poll
  advance(2.5);
  poller.poll();
  poller.arrived();
  const n = polls.length;
  await nextTurn();
  await nextTurn();
  assert.is(polls.length, n);
});

test.run();
