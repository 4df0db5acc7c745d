// When to receive on the JavaScript thread (Transport.poll) instead of
// waiting for the receive thread's hop into the event loop (issue 19).
//
// A side expects a message soon when it has just asked for one: the client
// when a caller waits for a request that was sent, the server when it has
// just answered (the next request of a loop comes right after). The window
// is twice the last wait, so it follows how fast the other side answers:
// bounded by maxUs, and 0 (no polling at all) after a wait longer than that,
// until a wait is short again. Idle servers and a client whose commands run
// long therefore never spin. And polling stops for the rest of an event-loop
// turn once that turn has lasted turnBudgetMs since its first poll, so timers
// (heartbeats, the server's tick, a command's setTimeout) still run when
// every message comes in a synchronous chain (poll, handle, poll...).
import { performance } from 'node:perf_hooks';
import type { Transport } from './transport.js';

export interface PollerOptions {
  /** the longest window, and the longest wait that keeps polling on */
  maxUs: number;
  /** the first window, before any wait was seen */
  initialUs: number;
  /** how long an event-loop turn may go on polling, from its first poll */
  turnBudgetMs: number;
}

export const DEFAULT_POLLER: PollerOptions = { maxUs: 200, initialUs: 50, turnBudgetMs: 2 };

const MIN_WINDOW_US = 4;

export class Poller {
  private windowUs: number;
  /** performance.now() when the expected message was asked for; undefined: nothing expected */
  private since: number | undefined;
  private turnStart = 0;
  private turnArmed = false;

  constructor(
    private readonly transport: Transport,
    private readonly opts: PollerOptions = DEFAULT_POLLER,
  ) {
    this.windowUs = opts.initialUs;
  }

  /** The current window in microseconds (0: not polling). */
  get window(): number {
    return this.windowUs;
  }

  /** A message is expected from now (kept if one is expected already). */
  expect(): void {
    this.since ??= performance.now();
  }

  /** The expected message came (by poll or by the receive thread): the next window follows this wait. */
  arrived(): void {
    if (this.since === undefined) return;
    const waitedUs = (performance.now() - this.since) * 1000;
    this.since = undefined;
    this.windowUs = waitedUs > this.opts.maxUs ? 0 : Math.min(this.opts.maxUs, Math.max(MIN_WINDOW_US, 2 * waitedUs));
  }

  /** Expect a message and poll for it now (after the current message, when called while one is delivered). */
  poll(): void {
    this.expect();
    if (this.windowUs === 0) return;
    const now = performance.now();
    if (!this.turnArmed) {
      this.turnArmed = true;
      this.turnStart = now;
      setImmediate(() => {
        this.turnArmed = false;
      });
    } else if (now - this.turnStart >= this.opts.turnBudgetMs) return;
    this.transport.poll(this.windowUs);
  }
}
