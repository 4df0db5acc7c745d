// The Transport on MPI: a dup()'ed communicator (the runtime's messages never
// mix with the application's), sends that never wait for the receiver (isend),
// and one listener on the binding's receive thread (listen): no promise per
// message, no polling. When a message is expected soon, poll() receives it on
// this thread instead (the binding's bounded MPI_Improbe), which saves the
// hop from the receive thread into the event loop.
import { type Communicator } from '../native/api.js';
import { MAX_MESSAGE_BYTES } from './protocol.js';
import type { Envelope, Transport } from './transport.js';

export class MPITransport implements Transport {
  private closed = false;
  private handler: ((msg: Envelope) => void) | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    readonly comm: Communicator,
    private readonly onError: (e: unknown) => void = (e) => {
      process.emitWarning(`MPI receive failed: ${String(e)}`);
    },
  ) {}

  /** the binding refuses larger sends with RangeError (an MPI count is an int) */
  readonly maxMessageBytes = MAX_MESSAGE_BYTES;

  get rank(): number {
    return this.comm.rank;
  }
  get size(): number {
    return this.comm.size;
  }

  /** isend: a rank busy in a command never stalls the one sending to it (the bytes are copied, so the buffer is free at once) */
  send(dest: number, tag: number, data: Uint8Array): void {
    this.comm.isend(data, dest, tag);
  }

  start(handler: (msg: Envelope) => void): void {
    this.handler = handler;
    if (this.unlisten || this.closed) return;
    this.unlisten = this.comm.listen((m) => {
      if (this.closed) return;
      // a message refused for its size was drained: report it and keep receiving
      if ('error' in m) {
        this.onError(m.error);
        return;
      }
      try {
        this.handler!({ source: m.source, tag: m.tag, data: m.data });
      } catch (e) {
        this.onError(e);
      }
    });
  }

  poll(maxMicros: number): number {
    return this.closed || !this.unlisten ? 0 : this.comm.poll(maxMicros);
  }

  enableHeartbeat(requestTag: number, replyTag: number): void {
    this.comm.enableHeartbeat(requestTag, replyTag);
  }
  setHeartbeatPayload(payload: Uint8Array): void {
    this.comm.setHeartbeatPayload(payload);
  }

  /** Stop delivering (a STOP handled in the listener closes it: nothing stays listening at MPI_Finalize). */
  close(): void {
    this.closed = true;
    this.unlisten?.();
    this.unlisten = undefined;
  }
}
