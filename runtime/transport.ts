// The transport the client and the servers talk through. It is an interface
// so the scheduling logic runs and is tested without MPI (InProcessHub) and
// the same code runs on MPI (MPITransport in mpi-transport.ts).

export interface Envelope {
  source: number;
  tag: number;
  data: Buffer;
}

export interface Transport {
  readonly rank: number;
  readonly size: number;
  /** The largest message send() carries (MPI: 2 GiB - 1, the binding's int count); larger ones throw RangeError. */
  readonly maxMessageBytes?: number;
  /** Send bytes to a rank; returns once the buffer may be reused. */
  send(dest: number, tag: number, data: Uint8Array): void;
  /** Deliver every incoming message (except native heartbeat requests) to the handler, until close(). */
  start(handler: (msg: Envelope) => void): void;
  /**
   * A message is expected soon: receive on the calling thread for up to
   * `maxMicros`, delivering to the handler before returning; returns how many
   * were delivered. Called from inside the handler, it runs after the handler
   * returns (and returns 0), so deliveries never nest. MPI: the binding's
   * bounded MPI_Improbe on the JS thread; in process: the messages already
   * there.
   */
  poll(maxMicros: number): number;
  /**
   * Answer every message with requestTag by sending the heartbeat payload back
   * to its sender with replyTag, outside the JavaScript thread (MPI: the
   * binding's native receive thread), so a rank busy in JS still answers.
   */
  enableHeartbeat(requestTag: number, replyTag: number): void;
  setHeartbeatPayload(payload: Uint8Array): void;
  /** Stop delivering messages. */
  close(): void;
}

/** A fault the hub applies to the next message matching `from`, `to` and `tag`. */
export interface HubFault {
  from: number;
  to: number;
  tag: number;
  /** drop: the message is lost in transit; replace: the receiver gets `data` instead */
  action: { kind: 'drop' } | { kind: 'replace'; data: Uint8Array };
}

/**
 * N endpoints in one process. Messages are delivered asynchronously in send
 * order per destination. A rank can be frozen (like SIGSTOP: nothing is
 * delivered to it and its heartbeat is not answered) and thawed; a message can
 * be lost or garbled in transit (`inject`). Sends larger than
 * `maxMessageBytes` throw RangeError, as the MPI binding's do.
 */
export class InProcessHub {
  readonly endpoints: InProcessTransport[];
  readonly faults: HubFault[] = [];
  constructor(
    readonly size: number,
    readonly maxMessageBytes = 0x7fffffff,
  ) {
    this.endpoints = Array.from({ length: size }, (_, rank) => new InProcessTransport(this, rank));
  }
  /** Apply a fault to the next message that matches it (once). */
  inject(fault: HubFault): void {
    this.faults.push(fault);
  }
  endpoint(rank: number): InProcessTransport {
    const ep = this.endpoints[rank];
    if (!ep) throw new RangeError(`no rank ${rank} in a hub of ${this.size}`);
    return ep;
  }
  freeze(rank: number): void {
    this.endpoint(rank).frozen = true;
  }
  thaw(rank: number): void {
    const ep = this.endpoint(rank);
    ep.frozen = false;
    ep.schedule();
  }
}

export class InProcessTransport implements Transport {
  frozen = false;
  private handler: ((msg: Envelope) => void) | undefined;
  private readonly inbox: Envelope[] = [];
  private scheduled = false;
  /** delivering now: a poll() asked for meanwhile runs after the current message */
  private delivering = false;
  private pollAfter = false;
  private closed = false;
  private heartbeat: { requestTag: number; replyTag: number } | undefined;
  private payload: Buffer = Buffer.alloc(0);
  /** messages this endpoint sent, for tests (in all, and by tag) */
  sentCount = 0;
  readonly sentByTag = new Map<number, number>();

  constructor(
    private readonly hub: InProcessHub,
    readonly rank: number,
  ) {}
  get size(): number {
    return this.hub.size;
  }
  get maxMessageBytes(): number {
    return this.hub.maxMessageBytes;
  }

  send(dest: number, tag: number, data: Uint8Array): void {
    if (this.frozen) throw new Error(`in-process rank ${this.rank} is frozen and cannot send`);
    if (data.byteLength > this.hub.maxMessageBytes)
      throw new RangeError(`send buffer of ${data.byteLength} bytes is larger than ${this.hub.maxMessageBytes} (the transport's message limit)`);
    this.sentCount++;
    this.sentByTag.set(tag, (this.sentByTag.get(tag) ?? 0) + 1);
    const i = this.hub.faults.findIndex((f) => f.from === this.rank && f.to === dest && f.tag === tag);
    if (i >= 0) {
      const [f] = this.hub.faults.splice(i, 1);
      if (f.action.kind === 'drop') return;
      data = f.action.data;
    }
    // copy: the sender may reuse its buffer, as with MPI_Send
    this.hub.endpoint(dest).deliver({ source: this.rank, tag, data: Buffer.from(data) });
  }

  start(handler: (msg: Envelope) => void): void {
    this.handler = handler;
    this.schedule();
  }

  enableHeartbeat(requestTag: number, replyTag: number): void {
    this.heartbeat = { requestTag, replyTag };
  }
  setHeartbeatPayload(payload: Uint8Array): void {
    this.payload = Buffer.from(payload);
  }
  close(): void {
    this.closed = true;
    this.handler = undefined;
  }

  /** @internal */
  deliver(msg: Envelope): void {
    this.inbox.push(msg);
    this.schedule();
  }

  /** @internal */
  schedule(): void {
    if (this.scheduled || this.frozen || this.inbox.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** The messages already here (a frozen rank receives nothing): in process, nothing can arrive while this thread waits. */
  poll(): number {
    if (this.delivering) {
      this.pollAfter = true;
      return 0;
    }
    return this.drain();
  }

  private drain(): number {
    this.delivering = true;
    let n = 0;
    try {
      do {
        this.pollAfter = false;
        while (this.inbox.length > 0 && !this.frozen) {
          const msg = this.inbox[0];
          if (this.heartbeat && msg.tag === this.heartbeat.requestTag) {
            // the "native thread": answers even while the handler is busy
            this.inbox.shift();
            this.hub.endpoint(msg.source).deliver({ source: this.rank, tag: this.heartbeat.replyTag, data: Buffer.from(this.payload) });
            continue;
          }
          if (!this.closed && !this.handler) break; // kept until start()
          this.inbox.shift();
          if (this.handler) {
            n++;
            this.handler(msg);
          }
        }
      } while (this.pollAfter);
    } finally {
      this.delivering = false;
    }
    return n;
  }
}
