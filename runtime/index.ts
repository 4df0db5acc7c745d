// The runtime's public surface. Under `mpistack-run`, `client` is the started
// MPICommandClient on rank 0 (also the global `client`).
export { MPICommandClient, type ClientOptions, type CommandResponse, type PushOptions, type ResponseOptions, type ServerStatus, type RequestStatus } from './client.js';
export { MPICommandServer } from './server.js';
export { MPIMonitorClient } from './monitor.js';
export { MPIEnvironment, enabledLine, threadWarning } from './environment.js';
export { ParallelTaskHelper, mergeResults, type ParallelResult } from './parallel.js';
export { InProcessHub, InProcessTransport, type Transport, type Envelope } from './transport.js';
export { MPITransport } from './mpi-transport.js';
export * from './errors.js';
export { Tag, Kind, ProtocolError, ValueEncodingError, MAX_MESSAGE_BYTES } from './protocol.js';
import type { MPICommandClient } from './client.js';

/** The client on rank 0 (set by the launcher before the script is imported). */
export let client: MPICommandClient = undefined as unknown as MPICommandClient;
export function setClient(c: MPICommandClient): void { client = c; }
