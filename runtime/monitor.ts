// MPIMonitorClient: watches the servers' responsiveness. Every heartbeat
// interval it sends each server one heartbeat request (never more than one
// outstanding per server, so nothing piles up at a frozen process). The
// server's native receive thread answers with its busy flag, so a server
// busy in long JavaScript is alive-and-busy, while a SIGSTOPped process does
// not answer: after `serverTimeoutMs` of silence (measured on the monotonic
// wall clock, from the last thing heard from the server) it is in timeout.
// Anything heard from it later (heartbeat reply, response, log line) recovers it.
// Each reply also says which requests the server holds (running and queued
// ids): the client compares that with what it waits for (onHeartbeat).
import { performance } from 'node:perf_hooks';
import { HEARTBEAT_PING, Tag, decodeHeartbeat, type Heartbeat } from './protocol.js';
import type { Transport } from './transport.js';

export interface ServerState {
  rank: number;
  host: string;
  pid: number;
  /** monotonic ms (performance.now) of the last message heard from the server */
  lastHeard: number;
  /** epoch ms of the last heartbeat reply */
  lastHeartbeat: number | undefined;
  /** monotonic ms the outstanding heartbeat request was sent, undefined if none */
  pingSentAt: number | undefined;
  /** the server's own busy flag, as its native thread last reported it */
  reportedBusy: boolean;
  reportedRequestId: number;
  /** ids the server said were queued behind the running one, and how many in all */
  reportedQueue: number[];
  reportedQueueCount: number;
  timedOut: boolean;
  timedOutAt: number | undefined;
}

export interface MonitorOptions {
  serverTimeoutMs: number;
  heartbeatIntervalMs: number;
  onTimeout(server: ServerState, silentMs: number): void;
  onRecover(server: ServerState): void;
  /** after every well-formed heartbeat reply (the state fields are updated already) */
  onHeartbeat?(server: ServerState, hb: Heartbeat): void;
}

export class MPIMonitorClient {
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;

  constructor(
    private readonly transport: Transport,
    private readonly servers: Map<number, ServerState>,
    private readonly opts: MonitorOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.opts.heartbeatIntervalMs);
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Called for every message from a server. */
  heard(server: ServerState): void {
    server.lastHeard = performance.now();
    if (server.timedOut) this.recover(server);
  }

  onHeartbeatReply(server: ServerState, data: Buffer): void {
    server.pingSentAt = undefined;
    server.lastHeartbeat = Date.now();
    this.heard(server);
    let hb: Heartbeat;
    try {
      hb = decodeHeartbeat(data);
    } catch {
      return;
    } // alive, but says nothing usable about its requests
    server.reportedBusy = hb.busy;
    server.reportedRequestId = hb.requestId;
    server.reportedQueue = hb.queued;
    server.reportedQueueCount = hb.queuedCount;
    this.opts.onHeartbeat?.(server, hb);
  }

  private recover(server: ServerState): void {
    server.timedOut = false;
    server.timedOutAt = undefined;
    this.opts.onRecover(server);
  }

  tick(): void {
    const t = performance.now();
    // If this process itself was not running (event loop blocked, or the
    // client stopped), replies may be waiting unread: do not blame the servers.
    const stalled = t - this.lastTick > Math.max(2 * this.opts.heartbeatIntervalMs, this.opts.heartbeatIntervalMs + 250);
    this.lastTick = t;
    for (const s of this.servers.values()) {
      if (stalled) {
        s.lastHeard = Math.max(s.lastHeard, t - this.opts.heartbeatIntervalMs);
      }
      if (s.pingSentAt === undefined) {
        s.pingSentAt = t;
        try {
          this.transport.send(s.rank, Tag.HEARTBEAT_REQUEST, HEARTBEAT_PING);
        } catch {
          /* reported by the timeout below */
        }
      }
      const silent = t - s.lastHeard;
      if (!s.timedOut && silent > this.opts.serverTimeoutMs) {
        s.timedOut = true;
        s.timedOutAt = Date.now();
        this.opts.onTimeout(s, silent);
      }
    }
  }
}
