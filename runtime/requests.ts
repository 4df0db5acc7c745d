// The client's request table: every request by id, its response record (the
// seed's dictionary), who waits for it, and how long a finished one is kept.
//
// Retention (bounded memory; a request still queued or running is always
// kept). A finished request's response stays retrievable by id:
//   - once handed out (returned by getCommandResponse, a blocking
//     pushCommandRequest, submit or map), until `retainResponses` (default
//     10,000) more responses have been handed out for the first time after
//     it: a caller polling getCommandResponse(ids) with the same ids keeps
//     getting it;
//   - never handed out, until 10 x `retainResponses` newer finished requests
//     are waiting unread too (then the oldest unread goes first, and the client
//     logs it): a script that pushes without ever reading cannot grow the
//     client without bound.
// Asking for an id that was let go throws ResponseExpiredError; an id that
// never existed throws RangeError. A blocking wait that has started keeps
// its requests whatever happens to the table.
import { inspect } from 'node:util';
import { ResponseExpiredError } from './errors.js';
import { Fifo } from './fifo.js';
import type { CommandMode } from './protocol.js';

/**
 * 'timeout': its server stopped answering heartbeats. 'lost': its server
 * answers but no longer holds it (neither running nor queued) and its
 * response did not come within lostGraceMs. 'send failed': the transport
 * refused the request frame.
 */
export type RequestStatus = 'holding queue' | 'request sent' | 'response received' | 'timeout' | 'lost' | 'send failed';

/** The seed's command response dictionary (field names kept). */
export interface CommandResponse {
  command: string;
  id: number;
  mode: CommandMode;
  parameters: Record<string, unknown> | undefined;
  ret: unknown;
  /** rank of the server that ran (or was assigned) the request; undefined while queued untargeted */
  server: number | undefined;
  status: RequestStatus;
  /** false only when the command threw or rejected (or it could not run: timeout, stop) */
  successful: boolean;
  traceback: string | null;
  /** epoch ms, server clock; undefined until known */
  startTime: number | undefined;
  stopTime: number | undefined;
}

/** One request as the client tracks it. */
export interface Request {
  rec: CommandResponse;
  /** undefined = first available server */
  target: number | undefined;
  timeoutMs: number;
  callWithParameters: boolean;
  encodedParameters: Buffer | undefined;
  settled: boolean;
  /** set when the request was given up (timeout, lost) while its server may still run it */
  abandoned: boolean;
  /** its response was returned to a caller at least once */
  handedOut: boolean;
  /** the run time it was pipelined with (scheduler.ts), undefined when it was not pipelinable */
  pipelineMs: number | undefined;
  waiters: Array<{ resolve(): void; reject(e: Error): void }> | undefined;
  error: Error | undefined;
}

export type NewRequest = Omit<Request, 'rec' | 'settled' | 'abandoned' | 'handedOut' | 'pipelineMs' | 'waiters' | 'error'> & {
  command: string;
  mode: CommandMode;
  parameters: Record<string, unknown> | undefined;
};

export const DEFAULT_RETAIN_RESPONSES = 10_000;

export class RequestTable {
  private readonly byId = new Map<number, Request>();
  /** finished and never handed out, oldest first */
  private readonly unread = new Set<Request>();
  /**
   * the same, in the order they finished, with entries handed out since left
   * in place (skipped when met): the oldest unread in O(1). A Set's own first
   * entry is not: after many deletes at its front, finding it walks every
   * deleted slot (a client that never reads spent ~15 us per response there)
   */
  private unreadOrder = new Fifo<Request>();
  /** ids in the order they were first handed out */
  private readonly handed = new Fifo<number>();
  private nextId = 1;
  private droppedUnread = 0;
  private awaitedCount = 0;

  constructor(
    readonly retainResponses: number,
    private readonly onDropUnread: (req: Request, dropped: number) => void,
  ) {
    if (!Number.isInteger(retainResponses) || retainResponses < 1) throw new RangeError(`retainResponses must be a positive integer, not ${retainResponses}`);
  }

  /** How many requests the table holds now (pending and retained). */
  get size(): number {
    return this.byId.size;
  }
  get lastId(): number {
    return this.nextId - 1;
  }
  /** How many unsettled requests a caller is waiting for (whenSettled). */
  get awaited(): number {
    return this.awaitedCount;
  }

  add(n: NewRequest): Request {
    const id = this.nextId++;
    const req: Request = {
      rec: {
        command: n.command,
        id,
        mode: n.mode,
        parameters: n.parameters,
        ret: undefined,
        server: n.target,
        status: 'holding queue',
        successful: false,
        traceback: null,
        startTime: undefined,
        stopTime: undefined,
      },
      target: n.target,
      timeoutMs: n.timeoutMs,
      callWithParameters: n.callWithParameters,
      encodedParameters: n.encodedParameters,
      settled: false,
      abandoned: false,
      handedOut: false,
      pipelineMs: undefined,
      waiters: undefined,
      error: undefined,
    };
    this.byId.set(id, req);
    return req;
  }

  /** The request with this id; RangeError for an id never given, ResponseExpiredError for one let go. */
  get(id: number): Request {
    const r = this.byId.get(id);
    if (r) return r;
    if (Number.isInteger(id) && id >= 1 && id < this.nextId) {
      throw new ResponseExpiredError(
        `request ${id} finished and is no longer kept: a response stays retrievable until ${this.retainResponses} more have been handed out after it ` +
          `(or, never asked for, until ${10 * this.retainResponses} newer ones wait unread); keep the CommandResponse, or raise retainResponses`,
        id,
      );
    }
    throw new RangeError(`no command request with id ${inspect(id)} (ids start at 1; the last one is ${this.nextId - 1})`);
  }

  /** Every request not settled yet, oldest first. */
  *unsettled(): Generator<Request> {
    for (const r of this.byId.values()) if (!r.settled) yield r;
  }

  /** The request ends (response, timeout, lost, send failed: error undefined; stop: the error its waiters reject with). */
  settle(req: Request, error: Error | undefined): void {
    if (req.settled) return;
    req.settled = true;
    req.error = error;
    const ws = req.waiters;
    req.waiters = undefined;
    if (ws) {
      this.awaitedCount--;
      for (const w of ws) {
        if (error) w.reject(error);
        else w.resolve();
      }
    }
    if (req.handedOut) return;
    this.unread.add(req);
    this.unreadOrder.push(req);
    if (this.unreadOrder.length > 2 * this.unread.size + 1024) {
      // mostly entries handed out since: keep the ones still unread, in order
      const order = new Fifo<Request>();
      for (const r of this.unread) order.push(r);
      this.unreadOrder = order;
    }
    if (this.unread.size > 10 * this.retainResponses) {
      let oldest = this.unreadOrder.shift()!;
      while (!this.unread.has(oldest)) oldest = this.unreadOrder.shift()!;
      this.unread.delete(oldest);
      this.byId.delete(oldest.rec.id);
      this.onDropUnread(oldest, ++this.droppedUnread);
    }
  }

  /** Resolves when the request settles (to `then()`'s value, in the same step: one promise, not two), rejects with its stop error. */
  whenSettled(req: Request): Promise<void>;
  whenSettled<T>(req: Request, then: () => T): Promise<T>;
  whenSettled<T>(req: Request, then?: () => T): Promise<T | undefined> {
    if (req.settled) return req.error ? Promise.reject(req.error) : Promise.resolve(then?.());
    return new Promise((resolveP, reject) => {
      if (!req.waiters) {
        req.waiters = [];
        this.awaitedCount++;
      }
      req.waiters.push({
        resolve: then
          ? () => {
              try {
                resolveP(then());
              } catch (e) {
                reject(e instanceof Error ? e : new Error(String(e))); // then() is the client's handOut: what it throws is an Error
              }
            }
          : () => resolveP(undefined),
        reject,
      });
    });
  }

  /**
   * Resolves when every request has settled (to `then()`'s value), rejects
   * with the first stop error: one promise and one shared waiter, however
   * many requests (a wait on 50,000 made 50,000 promises).
   */
  whenAllSettled<T>(reqs: readonly Request[], then: () => T): Promise<T> {
    let left = 0;
    for (const r of reqs) {
      if (r.settled && r.error) return Promise.reject(r.error);
      if (!r.settled) left++;
    }
    if (left === 0) return Promise.resolve().then(then);
    return new Promise<T>((resolveP, reject) => {
      let done = false;
      const waiter = {
        resolve: () => {
          if (done || --left > 0) return;
          done = true;
          try {
            resolveP(then());
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e))); // as in whenSettled
          }
        },
        reject: (e: Error) => {
          if (!done) {
            done = true;
            reject(e);
          }
        },
      };
      for (const r of reqs) {
        if (r.settled) continue;
        if (!r.waiters) {
          r.waiters = [];
          this.awaitedCount++;
        }
        r.waiters.push(waiter);
      }
    });
  }

  /** The records of settled requests returned to a caller: from now on they age by the hand-out rule. */
  handOut(reqs: readonly Request[]): CommandResponse[] {
    const out: CommandResponse[] = [];
    for (const r of reqs) {
      out.push(r.rec);
      if (r.handedOut || !r.settled) continue;
      r.handedOut = true;
      this.unread.delete(r);
      this.handed.push(r.rec.id);
      if (this.handed.length > this.retainResponses) this.byId.delete(this.handed.shift()!);
    }
    return out;
  }
}
