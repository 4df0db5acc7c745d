#!/usr/bin/env bash
# Installs the Debian packages mpistack needs to build the stack and run its
# tests. This PKGS array is the one list: `mpistack doctor` reads it from this
# file (scripts/engine/prereqs.ts), so keep it a single PKGS=( ... ) array.
set -euo pipefail
PKGS=(build-essential gfortran make perl bison flex patchelf xz-utils bzip2 gzip file
      autoconf automake libtool autoconf2.69 libltdl-dev patch strace
      python3 python3-dev python3-setuptools cython3 dpkg-dev ca-certificates cmake pkgconf tcl libopenmpi-dev openmpi-bin python3-mpi4py iproute2
      slurmctld slurmd slurm-client slurm-wlm-torque util-linux
      libibverbs-dev librdmacm-dev libnuma-dev libpmi2-0-dev)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
