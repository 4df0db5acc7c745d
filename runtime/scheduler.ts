// The client's scheduler: which request goes to which server and when, and
// how every request ends. The façade (client.ts) validates and records
// requests and hands them here; the monitor (monitor.ts) reports heartbeats,
// timeouts and recoveries here.
//
// Scheduling: a server runs one command at a time, in the order it receives
// them. A request for a busy server (or, untargeted, when every server is
// busy) waits in the holding queue; untargeted requests go to the least busy
// server (an idle one first), and a server with room takes whichever of its
// own queue and the untargeted queue was pushed first. Everything is
// event-driven: a response frees room on its server and the next requests go
// out in the same turn of the event loop.
//
// Pipelining (issue 19): a request whose command ran short last time (the
// client keeps each command's last run time, as the server measured it) may
// be sent to a server that is still busy, behind other short commands, as
// long as their run times add up to at most PIPELINE_BUDGET_MS (and at most
// MAX_IN_FLIGHT are in flight), so that a server never waits for the client
// between short commands. A command never seen, or one that ran longer, is
// only sent to an idle server: long commands are placed exactly as without
// pipelining (on the first idle server), nothing is queued behind them on a
// server, and what waits behind pipelined commands waits about that budget
// at most. Requests sent to one server in one go travel as one BATCH message
// (protocol.ts). A request is 'request sent' from the moment it is sent (it
// may wait in its server's queue); the heartbeat lists what a server holds,
// queued ones included.
//
// Nothing waits forever: a request is settled by its response, by its
// server's timeout (status 'timeout'), by the server no longer holding it
// ('lost': its heartbeat names it neither as running nor as queued for longer
// than `lostGraceMs`), by a transport that refuses it ('send failed'), or by
// stopAll() (ServicesStoppedError). That holds whatever the server does: a
// response that does not decode, one that never comes, a frame the transport
// refuses.
import { inspect } from 'node:util';
import { RequestLostError, ServerTimeoutError, ServicesStoppedError, UnknownServerError } from './errors.js';
import { Fifo } from './fifo.js';
import type { ServerState } from './monitor.js';
import { Poller } from './poller.js';
import {
  Tag,
  decodeBatch,
  decodeResponse,
  describeThrown,
  encodeBatch,
  encodeRequest,
  isBatch,
  type Heartbeat,
  type LogLevel,
  type ResponseMessage,
} from './protocol.js';
import type { Request, RequestTable } from './requests.js';
import type { Transport } from './transport.js';

/** A server as the scheduler sees it: the monitor's state plus what it was sent. */
export interface ServerSlot extends ServerState {
  /**
   * the requests sent to it and not answered, oldest first: the first is the
   * one it runs, the others wait in its queue (also ones given up by a
   * timeout while the server may still run them)
   */
  inflight: Request[];
  /** its holding queue (targeted requests not sent yet) */
  queue: Fifo<Request>;
  /** monotonic ms of the first heartbeat that did not list inflight[0] (undefined while it does), and its tick */
  missingSince: number | undefined;
  missingTick: number;
  /** how many of `inflight` are pipelinable (their commands ran short last time), and the sum of those last run times (ms) */
  shortInFlight: number;
  shortInFlightMs: number;
}

/** How much recent command time may be queued on one server (see the top of this file). */
const PIPELINE_BUDGET_MS = 1;
/** The most requests in flight to one server. */
const MAX_IN_FLIGHT = 64;
/** How many commands' run times the client remembers. */
const COMMAND_TIMES = 1024;

export interface SchedulerOptions {
  serverTimeoutMs: number;
  lostGraceMs: number;
  log(level: LogLevel, text: string): void;
}

export class Scheduler {
  readonly servers = new Map<number, ServerSlot>();
  private readonly untargeted = new Fifo<Request>();
  private timedOutCount = 0;
  /** requests are sent only while running (after start-up, before stop) */
  private running = false;
  /** receives responses on this thread while a caller waits for one (poller.ts) */
  private readonly poller: Poller;
  /** held requests wait for the microtask that sends them */
  private kicked = false;
  /** each command's last run time (ms, server clock), for pipelining; at most COMMAND_TIMES entries */
  private readonly commandMs = new Map<string, number>();

  constructor(
    private readonly transport: Transport,
    private readonly requests: RequestTable,
    private readonly opts: SchedulerOptions,
  ) {
    this.poller = new Poller(transport);
  }

  addServer(rank: number, host: string, pid: number, now: number): void {
    this.servers.set(rank, {
      rank,
      host,
      pid,
      lastHeard: now,
      lastHeartbeat: undefined,
      pingSentAt: undefined,
      reportedBusy: false,
      reportedRequestId: 0,
      reportedQueue: [],
      reportedQueueCount: 0,
      timedOut: false,
      timedOutAt: undefined,
      inflight: [],
      queue: new Fifo(),
      missingSince: undefined,
      missingTick: 0,
      shortInFlight: 0,
      shortInFlightMs: 0,
    });
  }

  start(): void {
    this.running = true;
  }

  /**
   * The servers a request goes to: `[undefined]` for the first available one,
   * else the named ranks, each checked (UnknownServerError, ServerTimeoutError).
   */
  resolveTargets(target: number | number[] | undefined): Array<number | undefined> {
    if (target === undefined || target === null) {
      if (this.timedOutCount > 0 && this.timedOutCount === this.servers.size) {
        throw new ServerTimeoutError(`no server is available: every server is in timeout (${this.describeServers()})`, undefined);
      }
      return [undefined];
    }
    const list = Array.isArray(target) ? target : [target];
    const ranks = [...this.servers.keys()];
    if (list.length === 0) throw new UnknownServerError('targetServer is an empty list', target, ranks);
    for (const t of list) {
      const s = typeof t === 'number' ? this.servers.get(t) : undefined;
      if (!s) throw new UnknownServerError(`targetServer ${inspect(t)} is not a server; the servers are ranks ${ranks.join(', ')}`, t, ranks);
      if (s.timedOut) {
        const since = new Date(s.timedOutAt ?? Date.now()).toISOString();
        const message = `server ${t} (MPIServer-${t}@${s.host}, pid ${s.pid}) is in timeout: it has not answered heartbeats since ${since}`;
        throw new ServerTimeoutError(message, { rank: s.rank, host: s.host, pid: s.pid });
      }
    }
    return list;
  }

  /**
   * A new request: sent now if its server (or, untargeted, any server) is
   * idle, else held; held ones go out at the end of this turn of the event
   * loop (a microtask), so that a burst of pushes to a busy server becomes one
   * BATCH message instead of one message each.
   */
  enqueue(req: Request): void {
    if (req.target !== undefined) {
      const s = this.servers.get(req.target)!;
      if (this.idle(s) && s.queue.length === 0) this.sendTo(s, [req]);
      else {
        s.queue.push(req);
        this.kick();
      }
      return;
    }
    if (this.untargeted.length === 0) {
      for (const s of this.servers.values()) {
        if (this.idle(s) && s.queue.length === 0) {
          this.sendTo(s, [req]);
          return;
        }
      }
    }
    this.untargeted.push(req);
    this.kick();
  }

  private idle(s: ServerSlot): boolean {
    return s.inflight.length === 0 && !s.timedOut && this.running;
  }

  /** The last run time of a request's command if it may be pipelined (see the top of this file), else undefined. */
  private shortCost(req: Request): number | undefined {
    const ms = this.commandMs.get(req.rec.command);
    return ms !== undefined && ms < PIPELINE_BUDGET_MS ? ms : undefined;
  }

  /** Whether `s` may take `req` now: idle, or busy only with short commands and room for this short one. */
  private canTake(s: ServerSlot, req: Request, extra: readonly Request[] | undefined): boolean {
    if (s.timedOut) return false;
    const n = s.inflight.length + (extra?.length ?? 0);
    if (n === 0) return true;
    const cost = this.shortCost(req);
    if (cost === undefined || n >= MAX_IN_FLIGHT) return false;
    let short = s.shortInFlight;
    let ms = s.shortInFlightMs;
    for (const r of extra ?? []) {
      const c = this.shortCost(r);
      if (c === undefined) return false;
      short++;
      ms += c;
    }
    return short === n && ms + cost <= PIPELINE_BUDGET_MS;
  }

  private kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    queueMicrotask(() => {
      this.kicked = false;
      this.fill();
    });
  }

  /** Send held requests now (before the client observes or waits: the state is then as if they were sent at push). */
  flush(): void {
    if (this.kicked) this.fill();
  }

  /**
   * Hand held requests to the servers with room (only `to`, when given):
   * the least busy first, each taking its own queue and the untargeted one in
   * push order; one message per server.
   */
  private fill(to?: ServerSlot): void {
    if (!this.running) return;
    const candidates = to ? [to] : [...this.servers.values()];
    for (let again = true; again;) {
      const batches = new Map<ServerSlot, Request[]>();
      for (;;) {
        let best: ServerSlot | undefined;
        let bestLoad = Infinity;
        let bestOwn = false;
        for (const s of candidates) {
          const own = s.queue.peek();
          const any = this.untargeted.peek();
          const takeOwn = own !== undefined && (any === undefined || own.rec.id < any.rec.id);
          const next = takeOwn ? own : any;
          if (!next) continue;
          const extra = batches.get(s);
          const load = s.inflight.length + (extra?.length ?? 0);
          if (load < bestLoad && this.canTake(s, next, extra)) {
            best = s;
            bestLoad = load;
            bestOwn = takeOwn;
          }
        }
        if (!best) break;
        const next = bestOwn ? best.queue.shift()! : this.untargeted.shift()!;
        const list = batches.get(best);
        if (list) list.push(next);
        else batches.set(best, [next]);
      }
      // a failed send leaves its server with room: try again with what is left
      again = false;
      for (const [s, reqs] of batches) if (!this.sendTo(s, reqs)) again = true;
    }
  }

  /** Send requests to `s` in one message; false (each settled as 'send failed') when the transport refuses it. */
  private sendTo(s: ServerSlot, reqs: Request[]): boolean {
    const now = Date.now();
    const frames = reqs.map((req) =>
      encodeRequest(
        {
          id: req.rec.id,
          command: req.rec.command,
          mode: req.rec.mode,
          callWithParameters: req.callWithParameters,
          hasParameters: req.encodedParameters !== undefined,
          parameters: undefined,
          timeoutMs: req.timeoutMs,
        },
        req.encodedParameters,
      ),
    );
    try {
      this.transport.send(s.rank, Tag.REQUEST, frames.length === 1 ? frames[0] : encodeBatch(frames));
    } catch (e) {
      // the server never got them: it keeps its room, and the requests end here
      for (const req of reqs) {
        req.rec.server = s.rank;
        req.rec.status = 'send failed';
        req.rec.successful = false;
        req.rec.traceback = `SendError: request ${req.rec.id} could not be sent to MPIServer-${s.rank}@${s.host} (pid ${s.pid}): ${describeThrown(e)}`;
        this.requests.settle(req, undefined);
      }
      return false;
    }
    if (s.inflight.length === 0) s.missingSince = undefined;
    for (const req of reqs) {
      req.rec.server = s.rank;
      req.rec.startTime = now;
      req.rec.status = 'request sent';
      s.inflight.push(req);
      this.counted(s, req, 1);
    }
    return true;
  }

  /** Keep the server's sum of short commands in flight current as `req` goes in (+1) or out (-1). */
  private counted(s: ServerSlot, req: Request, sign: 1 | -1): void {
    // the cost a request was counted with is fixed when it is sent: its command's time may change meanwhile
    if (sign === 1) req.pipelineMs = this.shortCost(req);
    if (req.pipelineMs === undefined) return;
    s.shortInFlight += sign;
    s.shortInFlightMs = Math.max(0, s.shortInFlightMs + sign * req.pipelineMs);
  }

  /** `req` leaves the server's in-flight list (answered, lost). */
  private removeInFlight(s: ServerSlot, at: number): void {
    const [req] = s.inflight.splice(at, 1);
    if (req) this.counted(s, req, -1);
    if (at === 0) s.missingSince = undefined;
  }

  /** A caller has started waiting: while it waits for sent requests, receive their responses on this thread. */
  awaitResponses(): void {
    this.flush();
    if (this.running && this.requests.awaited > 0) this.poller.poll();
  }

  /** A RESPONSE message from `source` (already counted as heard by the monitor): one response, or a BATCH of them. */
  onResponse(source: number, data: Buffer): void {
    this.poller.arrived();
    const s = this.servers.get(source);
    let frames: Buffer[];
    try {
      frames = isBatch(data) ? decodeBatch(data) : [data];
    } catch (e) {
      // nothing readable: what it answered ends through the heartbeat check ('lost')
      this.opts.log('WARN', `ignored a RESPONSE batch from rank ${source} that does not decode: ${describeThrown(e)}`);
      return;
    }
    for (const frame of frames) this.onResponseFrame(source, s, frame);
    if (s) this.fill(s);
    this.awaitResponses();
  }

  private onResponseFrame(source: number, s: ServerSlot | undefined, frame: Buffer): void {
    let res: ResponseMessage;
    try {
      res = decodeResponse(frame);
    } catch (e) {
      // no readable request id: whatever it answered ends through the heartbeat check ('lost')
      this.opts.log('WARN', `ignored a RESPONSE from rank ${source} that does not decode: ${describeThrown(e)}`);
      return;
    }
    if (!s) return;
    const at = s.inflight.findIndex((r) => r.rec.id === res.id);
    const req = at >= 0 ? s.inflight[at] : this.find(res.id);
    if (at >= 0) this.removeInFlight(s, at);
    const ran = res.stopTime - res.startTime;
    if (req && Number.isFinite(ran) && ran >= 0) {
      if (this.commandMs.size >= COMMAND_TIMES && !this.commandMs.has(req.rec.command)) this.commandMs.delete(this.commandMs.keys().next().value as string);
      this.commandMs.set(req.rec.command, ran);
    }
    if (req && !req.settled) {
      const rec = req.rec;
      rec.status = 'response received';
      rec.successful = res.successful;
      rec.ret = res.ret;
      rec.traceback = res.error ? res.error.stack : null;
      rec.startTime = res.startTime;
      rec.stopTime = res.stopTime;
      this.requests.settle(req, undefined);
    } else if (req?.abandoned) {
      this.opts.log('INFO', `late response to request ${res.id} from MPIServer-${source}@${s.host} ignored: the request had ended as '${req.rec.status}'`);
    }
  }

  private find(id: number): Request | undefined {
    try {
      return this.requests.get(id);
    } catch {
      return undefined;
    }
  }

  /** The monitor put `s` in timeout: its requests end as 'timeout' (and every untargeted one when no server is left). */
  onServerTimeout(s: ServerSlot, silentMs: number): void {
    const ms = Math.round(silentMs);
    const why = `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) did not answer for ${ms} ms (serverTimeoutMs=${this.opts.serverTimeoutMs})`;
    this.timedOutCount++;
    this.opts.log('WARN', `${why}: server in timeout`);
    const fail = (req: Request) => {
      req.rec.status = 'timeout';
      req.rec.successful = false;
      req.rec.traceback = `ServerTimeoutError: request ${req.rec.id} not answered: ${why}`;
      this.requests.settle(req, undefined);
    };
    for (const r of s.inflight)
      if (!r.settled) {
        r.abandoned = true;
        fail(r);
      }
    for (let r = s.queue.shift(); r; r = s.queue.shift()) {
      r.rec.server = s.rank;
      fail(r);
    }
    if (this.timedOutCount === this.servers.size) {
      for (let r = this.untargeted.shift(); r; r = this.untargeted.shift()) fail(r);
    }
  }

  onServerRecover(s: ServerSlot): void {
    this.timedOutCount--;
    this.opts.log('INFO', `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) answers again: recovered from timeout`);
    this.fill();
  }

  /**
   * The second line of defence: the oldest request this client waits for on
   * `s` is neither running nor queued there, by the server's own heartbeat. Past
   * lostGraceMs (the request or its response may be in flight), and only if
   * the server's event loop kept running meanwhile (its tick advanced at
   * least twice: a blocked loop may have the request waiting unseen), it
   * ends as 'lost', naming server, host and pid, and the server is free
   * again. A request given up earlier (timeout) that the server no longer
   * holds just frees the server.
   */
  checkHeld(s: ServerSlot, hb: Heartbeat, now: number): void {
    const cur = s.inflight[0];
    if (!cur) {
      s.missingSince = undefined;
      return;
    }
    const id = cur.rec.id;
    const held = hb.requestId === id || hb.queued.includes(id) || hb.queuedCount > hb.queued.length;
    // busy with an older request (one this client gave up on): ours may still be on its way in
    const passedOver = !hb.busy || hb.requestId > id;
    if (held || !passedOver) {
      s.missingSince = undefined;
      return;
    }
    if (s.missingSince === undefined) {
      s.missingSince = now;
      s.missingTick = hb.tick;
    }
    const missingMs = now - s.missingSince;
    if (missingMs < this.opts.lostGraceMs || (hb.tick - s.missingTick) >>> 0 < 2) return;
    this.removeInFlight(s, 0);
    const state = hb.busy ? `running request ${hb.requestId}` : 'idle';
    const queued = `${hb.queuedCount} queued${hb.queued.length ? ` (${hb.queued.join(', ')})` : ''}`;
    const why =
      `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) no longer holds it: its heartbeat has said ${state}, ${queued}, ` +
      `for ${Math.round(missingMs)} ms (lostGraceMs=${this.opts.lostGraceMs}) and no response came`;
    if (!cur.settled) {
      const err = new RequestLostError(`request ${id} was lost: ${why}`, id, { rank: s.rank, host: s.host, pid: s.pid });
      cur.abandoned = true;
      cur.rec.status = 'lost';
      cur.rec.successful = false;
      cur.rec.traceback = `${err.name}: ${err.message}`;
      this.opts.log('WARN', `request ${id} (${JSON.stringify(cur.rec.command.slice(0, 80))}) lost: ${why}`);
      this.requests.settle(cur, undefined);
    } else {
      this.opts.log(
        'INFO',
        `request ${id} (given up earlier as '${cur.rec.status}') is no longer held by MPIServer-${s.rank}@${s.host}: the server is free again`,
      );
    }
    this.fill(s);
  }

  /** Stop sending, and settle every request not settled yet with ServicesStoppedError. */
  stopAll(reason: string): void {
    this.running = false;
    for (const req of [...this.requests.unsettled()]) {
      const where = req.rec.server !== undefined ? `, server ${req.rec.server}` : '';
      const err = new ServicesStoppedError(
        `request ${req.rec.id} (${JSON.stringify(req.rec.command)}, status '${req.rec.status}'${where}) ` +
          `was not answered: the services were stopped (${reason})`,
        reason,
        req.rec.id,
      );
      req.rec.successful = false;
      req.rec.traceback = `${err.name}: ${err.message}`;
      this.requests.settle(req, err);
    }
    this.untargeted.clear();
    for (const s of this.servers.values()) s.queue.clear();
  }

  describeServers(): string {
    return [...this.servers.values()].map((s) => `${s.rank}: ${s.host} pid ${s.pid}${s.timedOut ? ' timeout' : ''}`).join(', ');
  }
}

/** "request 3 running on server 1 since ...; request 4 in the holding queue" (at most 20). */
export function describePending(reqs: readonly Request[]): string {
  const shown = reqs
    .slice(0, 20)
    .map((r) =>
      r.rec.status === 'request sent'
        ? `request ${r.rec.id} running on server ${r.rec.server} since ${new Date(r.rec.startTime ?? 0).toISOString()}`
        : `request ${r.rec.id} in the holding queue${r.target !== undefined ? ` for server ${r.target}` : ''}`,
    );
  return shown.join('; ') + (reqs.length > 20 ? `; and ${reqs.length - 20} more` : '');
}
