// Environments the sanity checks run programs in: the one every mpirun on
// this kind of machine needs, and one without the search-path variables that
// could hide a missing RPATH or pick another MPI.
import { join } from 'node:path';

/** The environment every mpirun here needs (root in a container, few cores, no ptrace for CMA); the test helpers share it. */
export function mpirunEnv(base: NodeJS.ProcessEnv = process.env, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...base,
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    // CMA single copy needs ptrace, which containers usually forbid
    OMPI_MCA_btl_vader_single_copy_mechanism: 'none',
    // more ranks than cores: the MCA parameter, not `--oversubscribe`, which
    // Open MPI 1.6's mpirun does not know (it oversubscribes by default)
    OMPI_MCA_rmaps_base_oversubscribe: '1',
    // an idle rank must not spin a core: let Open MPI yield when oversubscribed
    OMPI_MCA_mpi_yield_when_idle: '1',
    ...extra,
  };
}

/**
 * `base` with `root`'s lib/ first on LD_LIBRARY_PATH: a staged tree's programs carry a RUNPATH to the final
 * prefix, and RUNPATH (new dtags) loses to LD_LIBRARY_PATH, so they load the staged libraries, never another copy.
 */
export function withTreeLibs(root: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...base, LD_LIBRARY_PATH: [join(root, 'lib'), base.LD_LIBRARY_PATH].filter(Boolean).join(':') };
}

/** Variables that could make a program find a library or a package somewhere other than its RPATH says. */
const SEARCH_PATH_VARIABLES = ['LD_LIBRARY_PATH', 'LIBRARY_PATH', 'CPATH', 'CPLUS_INCLUDE_PATH', 'OPAL_PREFIX', 'BOOST_ROOT', 'CMAKE_PREFIX_PATH', 'MPI_HOME'];

/** An environment without the variables that could hide a missing RPATH or pick another MPI. */
export function cleanEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const k of SEARCH_PATH_VARIABLES) delete env[k];
  return env;
}
