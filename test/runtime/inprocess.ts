// In-process cluster for the pure scheduling tests: one client and N-1
// servers on an InProcessHub, all in this process (no MPI).
import { MPICommandClient, type ClientOptions } from '../../runtime/client.js';
import { MPICommandServer } from '../../runtime/server.js';
import { InProcessHub } from '../../runtime/transport.js';

export interface Cluster {
  hub: InProcessHub;
  client: MPICommandClient;
  servers: MPICommandServer[];
  lines: string[];
}

export async function cluster(
  size = 4,
  opts: Partial<ClientOptions> & { threadLevel?: number; start?: boolean; maxMessageBytes?: number } = {},
): Promise<Cluster> {
  const hub = new InProcessHub(size, opts.maxMessageBytes);
  const servers: MPICommandServer[] = [];
  for (let rank = 1; rank < size; rank++) {
    const s = MPICommandServer.create(hub.endpoint(rank), { allowMany: true, host: `host${rank}`, pid: 1000 + rank });
    void s.serve();
    servers.push(s);
  }
  MPICommandClient.instance?.stopServicesSync('a new in-process cluster');
  MPICommandClient.reset();
  const lines: string[] = [];
  const client = new MPICommandClient({
    transport: hub.endpoint(0),
    environment: {
      host: 'host0',
      threadLevel: opts.threadLevel ?? 3,
      threadLevelName: 'MPI_THREAD_MULTIPLE',
      library: 'in-process',
      threadWarning: ['not thread safe'],
    },
    log: { mode: 'terminal', level: 'DEBUG' },
    output: (t) => {
      lines.push(t);
    },
    serverTimeoutMs: 400,
    heartbeatIntervalMs: 40,
    stopTimeoutMs: 1000,
    ...opts,
  });
  if (opts.start !== false) await client.startServices();
  return { hub, client, servers, lines };
}
