// The runtime's public surface. Under `mpistack-run`, `client` is the started
// MPICommandClient on rank 0: the one handle (client.ts), re-exported here as
// a live binding (also the global `client`, and `new MPICommandClient()`).
export { MPICommandClient, client, type ClientOptions, type PushOptions, type ResponseOptions, type ServerStatus } from './client.js';
export { type CommandResponse, type RequestStatus } from './requests.js';
export { MPICommandServer } from './server.js';
export { MPIMonitorClient } from './monitor.js';
export { MPIEnvironment, enabledLine, threadWarning } from './environment.js';
export { ParallelTaskHelper, mergeResults, type ParallelResult } from './parallel.js';
export { InProcessHub, InProcessTransport, type Transport, type Envelope } from './transport.js';
export { MPITransport } from './mpi-transport.js';
export * from './errors.js';
export { Tag, Kind, MAX_MESSAGE_BYTES } from './protocol.js';
