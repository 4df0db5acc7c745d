// Libraries a packed tree does NOT carry: the node provides them. Data, in
// the spirit of PEP 600/manylinux's allow-list, printed by `pack --explain`.
//
// Two kinds:
//  - base: the C/C++ runtime every glibc Linux node has. Vendoring these is
//    wrong (libc must match ld.so; a copied libstdc++ older than the node's
//    breaks other libraries in the same process).
//  - cluster: libraries that must come from the cluster itself, because they
//    talk to its hardware, kernel drivers or resource manager; a copy from the
//    build machine would be the wrong version for the node's driver/daemon.

interface BaseLib {
  /** matches a DT_NEEDED soname */
  pattern: RegExp;
  kind: 'base' | 'cluster';
  why: string;
}

export const BASE_LIBRARIES: readonly BaseLib[] = [
  { pattern: /^ld-linux(-x86-64|-aarch64)?\.so\.\d+$/, kind: 'base', why: 'the dynamic loader itself' },
  { pattern: /^linux-vdso\.so\.1$/, kind: 'base', why: 'provided by the kernel' },
  { pattern: /^libc\.so\.6$/, kind: 'base', why: "glibc: must match the node's ld.so" },
  { pattern: /^libm\.so\.6$/, kind: 'base', why: 'glibc' },
  { pattern: /^libdl\.so\.2$/, kind: 'base', why: 'glibc' },
  { pattern: /^libpthread\.so\.0$/, kind: 'base', why: 'glibc' },
  { pattern: /^librt\.so\.1$/, kind: 'base', why: 'glibc' },
  { pattern: /^libutil\.so\.1$/, kind: 'base', why: 'glibc' },
  { pattern: /^libresolv\.so\.2$/, kind: 'base', why: 'glibc' },
  { pattern: /^libnsl\.so\.[12]$/, kind: 'base', why: 'glibc/libnsl' },
  { pattern: /^libanl\.so\.1$/, kind: 'base', why: 'glibc' },
  { pattern: /^libcrypt\.so\.[12]$/, kind: 'base', why: 'glibc/libxcrypt, manylinux base' },
  { pattern: /^libgcc_s\.so\.1$/, kind: 'base', why: 'GCC runtime, manylinux base' },
  { pattern: /^libstdc\+\+\.so\.6$/, kind: 'base', why: 'GCC C++ runtime, manylinux base; one copy per process' },
  { pattern: /^libz\.so\.1$/, kind: 'base', why: 'zlib, present on every node (manylinux base)' },
  // cluster-provided
  { pattern: /^libibverbs\.so\.\d+$/, kind: 'cluster', why: "InfiniBand verbs: must match the node's rdma-core and kernel driver" },
  { pattern: /^librdmacm\.so\.\d+$/, kind: 'cluster', why: "RDMA connection manager, part of the node's rdma-core" },
  { pattern: /^libmlx[45]\.so\.\d+$/, kind: 'cluster', why: "Mellanox direct-verbs provider of the node's rdma-core (UCX's libuct_ib links libmlx5)" },
  { pattern: /^libefa\.so\.\d+$/, kind: 'cluster', why: "AWS EFA direct-verbs library of the node's rdma-core: must match the kernel driver" },
  { pattern: /^libcxi\.so\.\d+$/, kind: 'cluster', why: "HPE Slingshot CXI library: must match the node's cxi driver" },
  { pattern: /^libibumad\.so\.\d+$/, kind: 'cluster', why: "InfiniBand MAD access, part of the node's rdma-core" },
  { pattern: /^libnl-(3|route-3)\.so\.\d+$/, kind: 'cluster', why: "netlink, loaded by the node's libibverbs (rdma-core's dependency)" },
  // a stack with fabrics carries its own UCX and libfabric (found in the tree first, so these entries never apply to
  // them); a library linked against a system copy leaves that copy to the node, where it matches the fabric
  { pattern: /^libuc[ptsm]\.so\.\d+$/, kind: 'cluster', why: "a system UCX (the tree's own is in lib/): tuned to the node's fabric" },
  { pattern: /^libfabric\.so\.\d+$/, kind: 'cluster', why: "a system libfabric (the tree's own is in lib/): providers match the node's fabric" },
  { pattern: /^libpsm_infinipath\.so\.\d+$/, kind: 'cluster', why: 'PSM: QLogic/TrueScale driver library' },
  { pattern: /^libpsm2\.so\.\d+$/, kind: 'cluster', why: 'PSM2: Omni-Path driver library' },
  { pattern: /^libpmi2?\.so\.\d+$/, kind: 'cluster', why: 'PMI from the resource manager (Slurm): must match slurmd' },
  { pattern: /^libpmix\.so\.\d+$/, kind: 'cluster', why: 'external PMIx: must match the resource manager' },
  { pattern: /^libslurm(full)?\.so\.\d+$/, kind: 'cluster', why: "Slurm: must match the cluster's slurmd" },
  { pattern: /^libcuda\.so\.\d+$/, kind: 'cluster', why: "CUDA driver: must match the node's kernel module" },
  { pattern: /^libnvidia-ml\.so\.\d+$/, kind: 'cluster', why: "NVML: part of the node's GPU driver" },
  { pattern: /^libcudart\.so\.\d+/, kind: 'cluster', why: "CUDA runtime: from the cluster's CUDA install" },
  { pattern: /^libtorque\.so\.\d+$/, kind: 'cluster', why: "Torque/PBS TM API: must match the node's daemon" },
  { pattern: /^liblustreapi\.so\.\d+$/, kind: 'cluster', why: 'Lustre client library of the node' },
];

export function classifyBase(soname: string): BaseLib | undefined {
  return BASE_LIBRARIES.find((b) => b.pattern.test(soname));
}
