// env.sh and the Lmod (Lua) and Tcl modulefiles. Each computes the tree's
// location from its own path, so they keep working after the tree moves.
// They are conveniences (PATH, MANPATH, PKG_CONFIG_PATH, PYTHONPATH): a
// self-locating tree (Open MPI's installdirs patched to find its prefix from
// libopen-pal's own path: recipes/openmpi.ts patchesTable) needs nothing from
// them, and then they set no OPAL_PREFIX either.

export interface EnvSpec {
  version: string;
  /** Open MPI major version (5 adds PMIX_PREFIX / PRTE_PREFIX) */
  ompiMajor: number;
  /** tree-relative dirs that exist: decides which variables get set */
  hasManDir: boolean;
  pkgConfigDirs: string[];
  /** tree-relative Python package dirs (lib/python3.X/site-packages: mpi4py) to put on PYTHONPATH */
  pythonPathDirs?: string[];
  /** Open MPI finds its own prefix with OPAL_PREFIX unset (probed by pack): no *_PREFIX variables are set */
  selfLocating?: boolean;
  /** true only if some object could not be given an RPATH (never for trees pack makes; kept as a switch) */
  needsLdLibraryPath: boolean;
}

/** Paths of the generated files inside the tree. */
export const ENV_SH = 'env.sh';
export const LMOD_DIR = 'share/lmod/mpistack';
export const TCL_DIR = 'share/modulefiles/mpistack';

function prefixVars(spec: EnvSpec): string[] {
  if (spec.selfLocating) return [];
  return spec.ompiMajor >= 5 ? ['OPAL_PREFIX', 'PMIX_PREFIX', 'PRTE_PREFIX'] : ['OPAL_PREFIX'];
}

export function envSh(spec: EnvSpec): string {
  const L: string[] = [];
  L.push(
    '# mpistack ' + spec.version + ': source this file to use the tree it sits in.',
    '#   . /path/to/mpistack/env.sh',
    '# It finds the tree from its own path: bash (BASH_SOURCE), zsh (%x) and',
    '# ksh93 (.sh.file) work however it is sourced. Plain POSIX sh (dash) gives a',
    '# sourced file no way to know its path: there, set MPISTACK_ROOT first',
    '# (MPISTACK_ROOT=/path/to/mpistack . /path/to/mpistack/env.sh), or source it',
    '# from bash/zsh. Executing it (sh env.sh) sets nothing in the caller.',
    '_mps_src=',
    'if [ -n "${BASH_VERSION:-}" ]; then eval \'_mps_src=${BASH_SOURCE[0]}\'',
    'elif [ -n "${ZSH_VERSION:-}" ]; then eval \'_mps_src=${(%):-%x}\'',
    'elif [ -n "${KSH_VERSION:-}" ]; then eval \'_mps_src=${.sh.file}\' 2>/dev/null',
    'fi',
    'if [ -n "${_mps_src}" ]; then',
    '  _mps_root=$(cd "$(dirname "${_mps_src}")" && pwd -P)',
    'elif [ -n "${MPISTACK_ROOT:-}" ] && [ -f "${MPISTACK_ROOT}/env.sh" ]; then',
    '  _mps_root=$(cd "${MPISTACK_ROOT}" && pwd -P)',
    'else',
    '  echo "mpistack env.sh: cannot tell where this file is in this shell; set MPISTACK_ROOT=/path/to/mpistack first" >&2',
    '  _mps_root=',
    'fi',
    '_mps_prepend() { # var dir: put dir first in the colon list $var, dropping other copies of it',
    '  eval "_mps_rest=\\${$1:-}"',
    '  _mps_new=$2',
    '  case "${_mps_rest}" in *:) _mps_tail=: ;; *) _mps_tail= ;; esac',
    '  while [ -n "${_mps_rest}" ]; do',
    '    _mps_e=${_mps_rest%%:*}',
    '    case "${_mps_rest}" in *:*) _mps_rest=${_mps_rest#*:} ;; *) _mps_rest= ;; esac',
    '    if [ -n "${_mps_e}" ] && [ "${_mps_e}" != "$2" ]; then _mps_new="${_mps_new}:${_mps_e}"; fi',
    '  done',
    '  eval "export $1=\\"\\${_mps_new}\\${_mps_tail}\\""',
    '}',
    'if [ -n "${_mps_root}" ]; then',
    '  export MPISTACK_ROOT="${_mps_root}"',
    '  _mps_prepend PATH "${_mps_root}/bin"',
  );
  for (const v of prefixVars(spec)) L.push(`  export ${v}="\${_mps_root}"`);
  if (spec.hasManDir) {
    L.push(
      '  # a trailing empty entry keeps man(1) searching its default paths',
      '  if [ -z "${MANPATH:-}" ]; then export MANPATH="${_mps_root}/share/man:"; else _mps_prepend MANPATH "${_mps_root}/share/man"; fi',
    );
  }
  for (const d of [...spec.pkgConfigDirs].reverse()) L.push(`  _mps_prepend PKG_CONFIG_PATH "\${_mps_root}/${d}"`);
  for (const d of [...(spec.pythonPathDirs ?? [])].reverse()) L.push(`  _mps_prepend PYTHONPATH "\${_mps_root}/${d}"`);
  if (spec.needsLdLibraryPath) L.push('  _mps_prepend LD_LIBRARY_PATH "${_mps_root}/lib"');
  else L.push('  # LD_LIBRARY_PATH is not set: every ELF file carries an $ORIGIN-relative RPATH');
  L.push('fi', 'unset _mps_src _mps_root _mps_rest _mps_new _mps_tail _mps_e', 'unset -f _mps_prepend 2>/dev/null || true', '');
  return L.join('\n');
}

/** Lmod modulefile at share/lmod/mpistack/<version>.lua: `module use <tree>/share/lmod; module load mpistack`. */
export function lmodFile(spec: EnvSpec): string {
  const L = [
    '-- -*- lua -*-',
    `-- mpistack ${spec.version}: module use <tree>/share/lmod && module load mpistack`,
    'whatis("Name: mpistack")',
    `whatis("Version: ${spec.version}")`,
    'whatis("Description: thread-safe MPI stack (Open MPI, Boost.MPI, Node binding, runtime)")',
    '-- the tree is three directories above this file (share/lmod/mpistack/<version>.lua)',
    'local root = myFileName():match("^(.*)/share/lmod/mpistack/[^/]*$")',
    'if not root then LmodError("mpistack: modulefile is not inside an mpistack tree: " .. myFileName()) end',
    'setenv("MPISTACK_ROOT", root)',
    'prepend_path("PATH", pathJoin(root, "bin"))',
  ];
  for (const v of prefixVars(spec)) L.push(`setenv("${v}", root)`);
  if (spec.hasManDir) L.push('prepend_path("MANPATH", pathJoin(root, "share/man"))');
  for (const d of spec.pkgConfigDirs) L.push(`prepend_path("PKG_CONFIG_PATH", pathJoin(root, "${d}"))`);
  for (const d of spec.pythonPathDirs ?? []) L.push(`prepend_path("PYTHONPATH", pathJoin(root, "${d}"))`);
  if (spec.needsLdLibraryPath) L.push('prepend_path("LD_LIBRARY_PATH", pathJoin(root, "lib"))');
  L.push('family("mpi")', '');
  return L.join('\n');
}

/** Tcl modulefile at share/modulefiles/mpistack/<version> (Environment Modules, also read by Lmod). */
export function tclFile(spec: EnvSpec): string {
  const L = [
    '#%Module1.0',
    `## mpistack ${spec.version}: module use <tree>/share/modulefiles && module load mpistack`,
    'module-whatis "mpistack: thread-safe MPI stack (Open MPI, Boost.MPI, Node binding, runtime)"',
    '# the tree is three directories above this file (share/modulefiles/mpistack/<version>)',
    'if {[info exists ModulesCurrentModulefile]} { set mf $ModulesCurrentModulefile } else { set mf [info script] }',
    'set root [file dirname [file dirname [file dirname [file dirname [file normalize $mf]]]]]',
    'setenv MPISTACK_ROOT $root',
    'prepend-path PATH $root/bin',
  ];
  for (const v of prefixVars(spec)) L.push(`setenv ${v} $root`);
  if (spec.hasManDir) L.push('prepend-path MANPATH $root/share/man');
  for (const d of spec.pkgConfigDirs) L.push(`prepend-path PKG_CONFIG_PATH $root/${d}`);
  for (const d of spec.pythonPathDirs ?? []) L.push(`prepend-path PYTHONPATH $root/${d}`);
  if (spec.needsLdLibraryPath) L.push('prepend-path LD_LIBRARY_PATH $root/lib');
  L.push('conflict mpi', '');
  return L.join('\n');
}
