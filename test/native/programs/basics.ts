// init/thread level, rank/size, identity calls.
import { mpi, provided, report, world } from './common.js';

report({
  size: world.size,
  provided,
  threadLevel: mpi.threadLevel(),
  initialized: mpi.isInitialized(),
  libraryPath: mpi.libraryPath(),
  version: mpi.version(),
  libraryVersion: mpi.libraryVersion(),
  receiveMode: mpi.receiveMode,
  processor: mpi.processorName(),
  wtime: mpi.wtime(),
  bindingPath: mpi.bindingPath,
});
world.barrier();
const token = world.bcast(world.rank === 0 ? Buffer.from('from-root') : undefined, 0).toString();
mpi.finalize();
report({ token, finalized: mpi.isFinalized() });
