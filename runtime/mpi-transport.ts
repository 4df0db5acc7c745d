// The Transport on MPI: a dup()'ed communicator (the runtime's messages never
// mix with the application's), blocking sends (small messages go eagerly),
// and one receive always posted on the binding's native receive thread
// (recvAsync), re-posted as soon as a message is handed over: no polling.
import { ANY_SOURCE, ANY_TAG, MessageTooLargeError, type Communicator } from '../native/api.js';
import { MAX_MESSAGE_BYTES } from './protocol.js';
import type { Envelope, Transport } from './transport.js';

export class MPITransport implements Transport {
  private closed = false;
  private handler: ((msg: Envelope) => void) | undefined;

  constructor(readonly comm: Communicator, private readonly onError: (e: unknown) => void = (e) => { process.emitWarning(`MPI receive failed: ${String(e)}`); }) {}

  /** the binding refuses larger sends with RangeError (an MPI count is an int) */
  readonly maxMessageBytes = MAX_MESSAGE_BYTES;

  get rank(): number { return this.comm.rank; }
  get size(): number { return this.comm.size; }

  send(dest: number, tag: number, data: Uint8Array): void {
    this.comm.send(data, dest, tag);
  }

  start(handler: (msg: Envelope) => void): void {
    if (this.handler) { this.handler = handler; return; }
    this.handler = handler;
    this.post();
  }

  private post(): void {
    if (this.closed) return;
    this.comm.recvAsync(ANY_SOURCE, ANY_TAG).then((m) => {
      if (this.closed) return;
      // handle first, then re-post: a STOP handled here closes the transport
      // and leaves no receive pending at MPI_Finalize
      try { this.handler!({ source: m.source, tag: m.tag, data: m.data }); } catch (e) { this.onError(e); }
      this.post();
    }, (e: unknown) => {
      if (this.closed) return;
      this.onError(e);
      // a message refused for its size was drained: keep receiving (anything else ends the receives: MPI is finalized)
      if (e instanceof MessageTooLargeError) this.post();
    });
  }

  enableHeartbeat(requestTag: number, replyTag: number): void { this.comm.enableHeartbeat(requestTag, replyTag); }
  setHeartbeatPayload(payload: Uint8Array): void { this.comm.setHeartbeatPayload(payload); }
  close(): void { this.closed = true; }
}
