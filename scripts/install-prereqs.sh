#!/usr/bin/env bash
# Installs the Debian packages mpistack needs to build the stack and run its
# tests. The list is the same one `mpistack doctor` checks (scripts/engine/prereqs.ts
# keeps the authoritative list; keep the two in step).
set -euo pipefail
PKGS=(build-essential gfortran make perl bison flex patchelf xz-utils bzip2 gzip file
      python3 dpkg-dev cmake libopenmpi-dev openmpi-bin python3-mpi4py iproute2)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
