// Which library a program really loads, as `ldd` prints it:
//     libmpi.so.40 => /opt/stack/lib/libmpi.so.40 (0x00007febb98ce000)
//     libfoo.so.1 => not found
// (the vdso and the loader, without `=>`, are left out).

/** Parse `ldd` output: library soname -> resolved path ('not found' when unresolved). */
export function parseLdd(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+(.+?)(?:\s+\(0x[0-9a-f]+\))?\s*$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** The libraries whose soname matches `which` and that do not resolve inside `libDir`, as `soname => path`. */
export function resolvedElsewhere(ldd: ReadonlyMap<string, string>, which: RegExp, libDir: string): string[] {
  return [...ldd].filter(([soname, path]) => which.test(soname) && !path.startsWith(`${libDir}/`)).map(([soname, path]) => `${soname} => ${path}`);
}
