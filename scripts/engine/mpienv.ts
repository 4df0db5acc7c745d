// The environment every mpirun on this kind of machine needs (root in a
// container, few cores, no ptrace for CMA). The sanity checks and the test
// helpers share it.
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
