// Leak check: after rewriting, no file in the tree may contain the build
// prefix, the build directory, the cache directory or the building user's
// home, except where an allow-list entry below says why it is harmless.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasElfMagic, readSections, type ElfSection } from './elf.js';

export interface Needle {
  label: string;
  value: string;
}

interface LeakAllow {
  /** which needles this entry may excuse */
  labels: readonly string[];
  /** tree-relative file path */
  file?: RegExp;
  /** ELF section the hit is in */
  section?: RegExp;
  /** the C string / line holding the hit, with the needle replaced by @NEEDLE@ */
  text?: RegExp;
  why: string;
}

const ANY = ['build prefix', 'input directory', 'build directory', 'cache directory', 'home'];

/** Harmless occurrences, each with the reason. Data, printed by `pack --explain`. */
export const LEAK_ALLOW: readonly LeakAllow[] = [
  {
    labels: ANY,
    file: /^bin\/(ompi_info|opal_info|orte-info|prte_info|pmix_info|oshmem_info)$/,
    text: /^ '--/,
    why: 'the configure command line (OMPI_CONFIGURE_CLI) that `ompi_info -a` prints; informational, never used to find a file',
  },
  {
    labels: ['build prefix'],
    file: /^lib\/libopen-pal\.so[.\d]*$/,
    text: /^@NEEDLE@$/,
    why:
      "opal's compiled-in install prefix (installdirs 'config' component), a fallback only: the 'env' component goes first and, " +
      'patched (recipes/openmpi.ts patchesTable, 4.1 and 1.6), takes the prefix from where libopen-pal lies when OPAL_PREFIX is unset; ' +
      'e2e self-location proves no path under the build prefix is opened, with a decoy install there (unpatched 5.x: env.sh sets OPAL_PREFIX)',
  },
  {
    labels: ['build prefix'],
    file: /^lib\/(libmpi\.so\.1|libopen-rte\.so\.4)(\.\d+)*$/,
    text: /^@NEEDLE@$/,
    why:
      'Open MPI 1.6 links opal (and orte) into libmpi.so.1 and libopen-rte.so.4 as well, ' +
      "so they carry the same installdirs 'config' prefix as libopen-pal: the same fallback behind the same self-locating 'env' component",
  },
  {
    labels: ['build prefix'],
    file: /^lib\/openmpi\/mca_pmix_pmix\dx\.so$/,
    text: /^@NEEDLE@$/,
    why:
      "the embedded PMIx's compiled-in install prefix (pinstalldirs 'config'), a fallback: the pmix3x component exports PMIX_INSTALL_PREFIX " +
      "before PMIx starts (patched: opal's self-located prefix when OPAL_PREFIX is unset), and PMIx's 'env' component reads that first",
  },
  {
    labels: ANY,
    file: /^lib\/openmpi\/mca_io_romio\d*\.so$/,
    text: /^ (FROM_OMPI=yes |CFLAGS=')/,
    why:
      "ROMIO's configure flags, kept as the read-only MCA variable io_romio321_complete_configure_params " +
      '(1.6: io_romio_complete_configure_params) that `ompi_info --all` shows; informational, never used to find a file',
  },
  {
    labels: ['build prefix'],
    file: /^lib\/libmpi\.so[.\d]*$/,
    text: /^@NEEDLE@\/lib\/openmpi\/libompi_dbg_msgq\.so$/,
    why: 'MPIR_dll_name: the message-queue DLL a parallel debugger (TotalView, DDT) loads; read only by a debugger attached to mpirun, never by Open MPI',
  },
  {
    labels: ['build prefix'],
    file: /^lib\/libucs\.so[.\d]*$/,
    text: /^@NEEDLE@\/(lib\/ucx|etc\/ucx)$/,
    why:
      "UCX's compiled-in module directory (UCX_MODULE_DIR) and configuration directory (UCX_CONFIG_DIR), fallbacks only: " +
      "patched (recipes/ucx.ts patchesTable), libucs loads modules from <its own directory>/ucx and reads the tree's etc/ucx/ucx.conf, " +
      'and uses these only when UCX_MODULE_DIR names another directory or its own location is unknown; e2e self-location proves it',
  },
  {
    labels: ANY,
    file: /^bin\/ucx_info$/,
    text: /--prefix=@NEEDLE@ /,
    why: 'the configure command line (UCX_CONFIGURE_FLAGS) that `ucx_info -b` prints; informational, never used to find a file',
  },
  {
    labels: ['build prefix'],
    file: /^lib\/libfabric\.so[.\d]*$/,
    text: /^@NEEDLE@\/lib\/libfabric$|\(default: @NEEDLE@\/lib\/libfabric\)$/,
    why:
      "libfabric's compiled-in provider directory (PROVDLDIR) and the FI_PROVIDER_PATH help text naming it: patched " +
      '(recipes/libfabric.ts patchesTable), libfabric loads DSO providers from <its own directory>/libfabric when FI_PROVIDER_PATH is unset',
  },
  {
    labels: ANY,
    section: /^\.debug_/,
    why:
      'DWARF source and compile-directory paths for debuggers, never read at run time; `pack --strip` removes them, ' +
      'and building with -ffile-prefix-map (issue 8) avoids them',
  },
];

export interface LeakHit {
  file: string;
  offset: number;
  label: string;
  needle: string;
  section?: string;
  /** the string or line around the hit */
  context: string;
  allowedBy?: LeakAllow;
}

function contextAt(buf: Buffer, at: number, len: number): string {
  let start = at;
  while (start > 0 && at - start < 4096 && buf[start - 1] !== 0 && buf[start - 1] !== 10) start--;
  let end = at + len;
  while (end < buf.length && end - at < 4096 && buf[end] !== 0 && buf[end] !== 10) end++;
  return buf.toString('latin1', start, end);
}

/** Scan the given tree-relative files for every needle. */
export function scanLeaks(root: string, files: readonly string[], needles: readonly Needle[], allow: readonly LeakAllow[] = LEAK_ALLOW): LeakHit[] {
  const hits: LeakHit[] = [];
  const ns = needles.filter((n) => n.value.length > 1).map((n) => ({ ...n, bytes: Buffer.from(n.value) }));
  for (const file of files) {
    const buf = readFileSync(join(root, file));
    let sections: ElfSection[] | undefined;
    const seenAt = new Set<number>();
    // longest needle first, so that a prefix inside the home is reported once, as the more specific one
    for (const n of [...ns].sort((a, b) => b.bytes.length - a.bytes.length)) {
      for (let at = buf.indexOf(n.bytes); at >= 0; at = buf.indexOf(n.bytes, at + 1)) {
        if (seenAt.has(at)) continue;
        seenAt.add(at);
        if (sections === undefined) sections = hasElfMagic(buf) ? safeSections(join(root, file)) : [];
        const section = sections.find((s) => at >= s.offset && at < s.offset + s.size)?.name;
        const context = contextAt(buf, at, n.bytes.length);
        const templ = context.split(n.value).join('@NEEDLE@');
        const allowedBy = allow.find(
          (a) =>
            a.labels.includes(n.label) &&
            (!a.file || a.file.test(file)) &&
            (!a.section || (section !== undefined && a.section.test(section))) &&
            (!a.text || a.text.test(templ)),
        );
        hits.push({ file, offset: at, label: n.label, needle: n.value, section, context, allowedBy });
      }
    }
  }
  return hits.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.offset - b.offset));
}

function safeSections(path: string): ElfSection[] {
  try {
    return readSections(path);
  } catch {
    return [];
  }
}

export function formatHit(h: LeakHit): string {
  const where = `${h.file}@${h.offset}${h.section ? ` (${h.section})` : ''}`;
  const i = h.context.indexOf(h.needle);
  const from = Math.max(0, i - 40);
  const ctx = `${from > 0 ? '...' : ''}${h.context.slice(from, i + h.needle.length + 60)}${i + h.needle.length + 60 < h.context.length ? '...' : ''}`;
  return `${where}: ${h.label} ${JSON.stringify(h.needle)} in ${JSON.stringify(ctx)}${h.allowedBy ? ` [allowed: ${h.allowedBy.why}]` : ''}`;
}
