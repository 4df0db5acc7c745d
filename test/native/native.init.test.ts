// init/thread level and rank/size at 1, 2 and 4 ranks under real mpirun.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { type LoadedBinding } from '../../native/index.js';
import { explain, runProgram } from './helpers.js';

/** the two kinds of line programs/basics.ts reports: the binding's facts, then after a bcast and finalize */
type Basics =
  | {
      size: number;
      provided: number;
      threadLevel: number;
      initialized: boolean;
      libraryPath: string;
      version: ReturnType<LoadedBinding['version']>;
      libraryVersion: string;
      receiveMode: LoadedBinding['receiveMode'];
      processor: string;
      wtime: number;
      bindingPath: string;
    }
  | { token: string; finalized: boolean };

for (const n of [1, 2, 4]) {
  test(`${n} rank(s): MULTIPLE provided, ranks 0..${n - 1}, size ${n}, bcast, finalize`, async () => {
    const r = await runProgram<Basics>(n, 'basics');
    assert.is(r.code, 0, explain(r));
    const first = r.results.filter((x) => 'size' in x);
    const second = r.results.filter((x) => 'token' in x);
    assert.equal(
      first.map((x) => x.rank),
      [...Array(n).keys()],
      explain(r),
    );
    for (const x of first) {
      assert.is(x.size, n);
      assert.is(x.provided, 3, 'MPI_THREAD_MULTIPLE');
      assert.is(x.threadLevel, 3);
      assert.ok(x.initialized);
      // MPI-3 (Open MPI 1.7+), or MPI-2.1 for the seed's Open MPI 1.6.5 stack (MPISTACK_PREFIX)
      assert.ok(x.version.major >= 3 || (x.version.major === 2 && x.version.minor >= 1), JSON.stringify(x.version));
      // MPI-2.1 has no matched probe; MPISTACK_TEST_RECEIVE_MODE names a binding built without it on purpose
      const mode = process.env.MPISTACK_TEST_RECEIVE_MODE ?? (x.version.major >= 3 ? 'matched-probe' : 'serialised-probe');
      assert.is(x.receiveMode, mode, JSON.stringify(x.version));
      assert.match(x.libraryVersion, /Open MPI|MPICH/);
      assert.ok(existsSync(x.libraryPath), `libraryPath ${x.libraryPath}`);
      assert.match(x.libraryPath, /libmpi\.so/);
      assert.ok(x.processor.length > 0);
    }
    assert.is(second.length, n, explain(r));
    for (const x of second) {
      assert.is(x.token, 'from-root');
      assert.ok(x.finalized);
    }
  });
}

test.run();
