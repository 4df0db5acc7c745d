// When to receive on the JavaScript thread (Transport.poll) instead of
// waiting for the receive thread's hop into the event loop (issue 19).
//
// A side expects a message soon when it has just asked for one: the client
// when a caller waits for a request that was sent, the server when it has
// just answered (the next request of a loop comes right after). It polls
// for up to maxUs while any of the last RECENT waits was that short, and not
// at all (window 0) once every one of them took longer. The full window, not
// one fitted to the last wait: a message that misses the window takes the
// slow hop (receive thread, event loop: tens of us, more on a busy core), so
// a wait stretched by a garbage collection or a descheduled peer should still
// be caught by polling; and one long wait does not switch polling off for the
// waits after it (each of which would then take the slow hop and look long
// too). What polling costs is at most one window per wait that ends in
// nothing (the other side went quiet); idle servers and a client whose
// commands run long stop spinning after RECENT long waits. And polling stops
// for the rest of an event-loop turn once that turn has lasted turnBudgetMs
// since its first poll, so timers (heartbeats, the server's tick, a
// command's setTimeout) still run when every message comes in a synchronous
// chain (poll, handle, poll...); the poll that was cut off runs at the end of
// that turn (a setImmediate), so the message still does not wait for the
// receive thread's hop.
import { performance } from 'node:perf_hooks';
import type { Transport } from './transport.js';

export interface PollerOptions {
  /** the longest window, and the longest wait that keeps polling on */
  maxUs: number;
  /** the first window, before any wait was seen */
  initialUs: number;
  /** how long an event-loop turn may go on polling, from its first poll */
  turnBudgetMs: number;
  /** the clock, in ms (tests pass their own) */
  now?: () => number;
}

export const DEFAULT_POLLER: PollerOptions = { maxUs: 200, initialUs: 200, turnBudgetMs: 2 };

/** how many recent waits decide the window */
const RECENT = 8;

export class Poller {
  private windowUs: number;
  /** the last RECENT waits in us, a ring */
  private readonly waits: number[] = [];
  private next = 0;
  /** now() when the expected message was asked for; undefined: nothing expected */
  private since: number | undefined;
  private turnStart = 0;
  private turnArmed = false;
  /** the budget ended a turn while a message was expected: poll again in the next one */
  private pollNextTurn = false;
  private readonly now: () => number;

  constructor(
    private readonly transport: Transport,
    private readonly opts: PollerOptions = DEFAULT_POLLER,
  ) {
    this.windowUs = opts.initialUs;
    this.now = opts.now ?? (() => performance.now());
  }

  /** The current window in microseconds (0: not polling). */
  get window(): number {
    return this.windowUs;
  }

  /** A message is expected from now (kept if one is expected already). */
  expect(): void {
    this.since ??= this.now();
  }

  /** The expected message came (by poll or by the receive thread): the next window follows the recent waits. */
  arrived(): void {
    if (this.since === undefined) return;
    const waitedUs = (this.now() - this.since) * 1000;
    this.since = undefined;
    this.waits[this.next] = waitedUs;
    this.next = (this.next + 1) % RECENT;
    let shortest = Infinity;
    for (const w of this.waits) if (w < shortest) shortest = w;
    this.windowUs = shortest > this.opts.maxUs ? 0 : this.opts.maxUs;
  }

  /** Expect a message and poll for it now (after the current message, when called while one is delivered). */
  poll(): void {
    this.expect();
    if (this.windowUs === 0) return;
    const now = this.now();
    if (!this.turnArmed) {
      this.turnArmed = true;
      this.turnStart = now;
      setImmediate(this.endTurn);
    } else if (now - this.turnStart >= this.opts.turnBudgetMs) {
      // the turn's budget is spent: let the event loop run (timers, I/O), then poll again from its check phase
      this.pollNextTurn = true;
      return;
    }
    this.transport.poll(this.windowUs);
  }

  private readonly endTurn = (): void => {
    this.turnArmed = false;
    if (!this.pollNextTurn) return;
    this.pollNextTurn = false;
    // still expected (not arrived meanwhile through the receive thread): poll in a fresh turn
    if (this.since !== undefined) this.poll();
  };
}
