// The client's scheduler: which request goes to which server and when, and
// how every request ends. The façade (client.ts) validates and records
// requests and hands them here; the monitor (monitor.ts) reports heartbeats,
// timeouts and recoveries here.
//
// Scheduling: one command at a time per server. A request for a busy server
// (or, untargeted, when every server is busy) waits in the holding queue and
// is sent when a server frees up; untargeted requests go to the first idle
// server, and a server that frees up takes whichever of its own queue and
// the untargeted queue was pushed first. Everything is event-driven: a
// response arriving frees its server and sends the next request in the same
// turn of the event loop.
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
import { Tag, decodeResponse, describeThrown, encodeRequest, type Heartbeat, type LogLevel, type ResponseMessage } from './protocol.js';
import type { Request, RequestTable } from './requests.js';
import type { Transport } from './transport.js';

/** A server as the scheduler sees it: the monitor's state plus what it was sent. */
export interface ServerSlot extends ServerState {
  /** the request sent to it and not answered (also one given up by a timeout while the server may still run it) */
  current: Request | undefined;
  queue: Fifo<Request>;
  /** monotonic ms of the first heartbeat that did not list `current` (undefined while it does), and its tick */
  missingSince: number | undefined;
  missingTick: number;
}

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

  constructor(private readonly transport: Transport, private readonly requests: RequestTable, private readonly opts: SchedulerOptions) {
    this.poller = new Poller(transport);
  }

  addServer(rank: number, host: string, pid: number, now: number): void {
    this.servers.set(rank, {
      rank, host, pid, lastHeard: now, lastHeartbeat: undefined, pingSentAt: undefined,
      reportedBusy: false, reportedRequestId: 0, reportedQueue: [], reportedQueueCount: 0, timedOut: false, timedOutAt: undefined,
      current: undefined, queue: new Fifo(), missingSince: undefined, missingTick: 0,
    });
  }

  start(): void { this.running = true; }

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
        throw new ServerTimeoutError(
          `server ${t} (MPIServer-${t}@${s.host}, pid ${s.pid}) is in timeout: it has not answered heartbeats since ${new Date(s.timedOutAt ?? Date.now()).toISOString()}`,
          { rank: s.rank, host: s.host, pid: s.pid },
        );
      }
    }
    return list;
  }

  /** A new request: sent now if its server (or any server, untargeted) is free, else held. */
  enqueue(req: Request): void {
    if (req.target !== undefined) {
      const s = this.servers.get(req.target)!;
      if (this.free(s) && s.queue.length === 0) this.send(s, req); else s.queue.push(req);
      return;
    }
    if (this.untargeted.length === 0) {
      for (const s of this.servers.values()) {
        if (this.free(s) && s.queue.length === 0) { this.send(s, req); return; }
      }
    }
    this.untargeted.push(req);
  }

  private free(s: ServerSlot): boolean { return !s.current && !s.timedOut && this.running; }

  private send(s: ServerSlot, req: Request): void {
    req.rec.server = s.rank;
    req.rec.startTime = Date.now();
    try {
      this.transport.send(s.rank, Tag.REQUEST, encodeRequest({
        id: req.rec.id, command: req.rec.command, mode: req.rec.mode, callWithParameters: req.callWithParameters,
        hasParameters: req.encodedParameters !== undefined, parameters: undefined, timeoutMs: req.timeoutMs,
      }, req.encodedParameters));
    } catch (e) {
      // the server never got it: it stays free, and the request ends here
      req.rec.status = 'send failed';
      req.rec.successful = false;
      req.rec.traceback = `SendError: request ${req.rec.id} could not be sent to MPIServer-${s.rank}@${s.host} (pid ${s.pid}): ${describeThrown(e)}`;
      this.requests.settle(req, undefined);
      return;
    }
    s.current = req;
    s.missingSince = undefined;
    req.rec.status = 'request sent';
  }

  /** Send the next queued request to a server that has just become free. */
  private dispatch(s: ServerSlot): void {
    // a failed send leaves the server free: try the next one
    while (this.free(s)) {
      const own = s.queue.peek();
      const any = this.untargeted.peek();
      let next: Request | undefined;
      if (own && (!any || own.rec.id < any.rec.id)) next = s.queue.shift();
      else if (any) next = this.untargeted.shift();
      if (!next) return;
      this.send(s, next);
    }
  }

  /** A caller has started waiting: while it waits for sent requests, receive their responses on this thread. */
  awaitResponses(): void {
    if (this.running && this.requests.awaited > 0) this.poller.poll();
  }

  /** A RESPONSE frame from `source` (already counted as heard by the monitor). */
  onResponse(source: number, data: Buffer): void {
    this.poller.arrived();
    const s = this.servers.get(source);
    let res: ResponseMessage;
    try { res = decodeResponse(data); } catch (e) {
      // no readable request id: whatever it answered ends through the heartbeat check ('lost')
      this.opts.log('WARN', `ignored a RESPONSE from rank ${source} that does not decode: ${describeThrown(e)}`);
      return;
    }
    if (!s) return;
    const req = s.current && s.current.rec.id === res.id ? s.current : this.find(res.id);
    if (s.current && s.current.rec.id === res.id) s.current = undefined;
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
    this.dispatch(s);
    this.awaitResponses();
  }

  private find(id: number): Request | undefined {
    try { return this.requests.get(id); } catch { return undefined; }
  }

  /** The monitor put `s` in timeout: its requests end as 'timeout' (and every untargeted one when no server is left). */
  onServerTimeout(s: ServerSlot, silentMs: number): void {
    const why = `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) did not answer for ${Math.round(silentMs)} ms (serverTimeoutMs=${this.opts.serverTimeoutMs})`;
    this.timedOutCount++;
    this.opts.log('WARN', `${why}: server in timeout`);
    const fail = (req: Request) => {
      req.rec.status = 'timeout';
      req.rec.successful = false;
      req.rec.traceback = `ServerTimeoutError: request ${req.rec.id} not answered: ${why}`;
      this.requests.settle(req, undefined);
    };
    if (s.current && !s.current.settled) { s.current.abandoned = true; fail(s.current); }
    for (let r = s.queue.shift(); r; r = s.queue.shift()) { r.rec.server = s.rank; fail(r); }
    if (this.timedOutCount === this.servers.size) {
      for (let r = this.untargeted.shift(); r; r = this.untargeted.shift()) fail(r);
    }
  }

  onServerRecover(s: ServerSlot): void {
    this.timedOutCount--;
    this.opts.log('INFO', `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) answers again: recovered from timeout`);
    this.dispatch(s);
  }

  /**
   * The second line of defence: the request this client waits for on `s` is
   * neither running nor queued there, by the server's own heartbeat. Past
   * lostGraceMs (the request or its response may be in flight), and only if
   * the server's event loop kept running meanwhile (its tick advanced at
   * least twice: a blocked loop may have the request waiting unseen), it
   * ends as 'lost', naming server, host and pid, and the server is free
   * again. A request given up earlier (timeout) that the server no longer
   * holds just frees the server.
   */
  checkHeld(s: ServerSlot, hb: Heartbeat, now: number): void {
    const cur = s.current;
    if (!cur) { s.missingSince = undefined; return; }
    const id = cur.rec.id;
    const held = hb.requestId === id || hb.queued.includes(id) || hb.queuedCount > hb.queued.length;
    // busy with an older request (one this client gave up on): ours may still be on its way in
    const passedOver = !hb.busy || hb.requestId > id;
    if (held || !passedOver) { s.missingSince = undefined; return; }
    if (s.missingSince === undefined) { s.missingSince = now; s.missingTick = hb.tick; }
    const missingMs = now - s.missingSince;
    if (missingMs < this.opts.lostGraceMs || ((hb.tick - s.missingTick) >>> 0) < 2) return;
    s.current = undefined;
    s.missingSince = undefined;
    const state = hb.busy ? `running request ${hb.requestId}` : 'idle';
    const queued = `${hb.queuedCount} queued${hb.queued.length ? ` (${hb.queued.join(', ')})` : ''}`;
    const why = `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) no longer holds it: its heartbeat has said ${state}, ${queued}, `
      + `for ${Math.round(missingMs)} ms (lostGraceMs=${this.opts.lostGraceMs}) and no response came`;
    if (!cur.settled) {
      const err = new RequestLostError(`request ${id} was lost: ${why}`, id, { rank: s.rank, host: s.host, pid: s.pid });
      cur.abandoned = true;
      cur.rec.status = 'lost';
      cur.rec.successful = false;
      cur.rec.traceback = `${err.name}: ${err.message}`;
      this.opts.log('WARN', `request ${id} (${JSON.stringify(cur.rec.command.slice(0, 80))}) lost: ${why}`);
      this.requests.settle(cur, undefined);
    } else {
      this.opts.log('INFO', `request ${id} (given up earlier as '${cur.rec.status}') is no longer held by MPIServer-${s.rank}@${s.host}: the server is free again`);
    }
    this.dispatch(s);
  }

  /** Stop sending, and settle every request not settled yet with ServicesStoppedError. */
  stopAll(reason: string): void {
    this.running = false;
    for (const req of [...this.requests.unsettled()]) {
      const where = req.rec.server !== undefined ? `, server ${req.rec.server}` : '';
      const err = new ServicesStoppedError(
        `request ${req.rec.id} (${JSON.stringify(req.rec.command)}, status '${req.rec.status}'${where}) was not answered: the services were stopped (${reason})`,
        reason, req.rec.id,
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
  const shown = reqs.slice(0, 20).map((r) => (r.rec.status === 'request sent'
    ? `request ${r.rec.id} running on server ${r.rec.server} since ${new Date(r.rec.startTime ?? 0).toISOString()}`
    : `request ${r.rec.id} in the holding queue${r.target !== undefined ? ` for server ${r.target}` : ''}`));
  return shown.join('; ') + (reqs.length > 20 ? `; and ${reqs.length - 20} more` : '');
}
