// Compile and link flags for binding.gyp, taken from the MPI compiler wrapper.
// Which wrapper: env MPICC, else <MPISTACK_PREFIX>/bin/mpicc, else `mpicc` on PATH.
// Usage (from binding.gyp): node src/mpiflags.mjs include_dirs|cflags|ldflags|libs|wrapper
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const wrapper = process.env.MPICC || (process.env.MPISTACK_PREFIX ? join(process.env.MPISTACK_PREFIX, 'bin', 'mpicc') : 'mpicc');
function showme(what) {
  try {
    return execFileSync(wrapper, [`--showme:${what}`], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
  } catch (e) {
    process.stderr.write(`mpiflags: '${wrapper} --showme:${what}' failed (${e.message}); set MPICC or MPISTACK_PREFIX\n`);
    process.exit(1);
  }
}

// Directories the dynamic loader searches anyway: no RPATH needed for those.
const systemDir = (d) => /^\/(usr\/)?lib(64|32)?(\/[a-z0-9_]+-linux-gnu[a-z0-9_]*)?\/?$/.test(d);

const kind = process.argv[2];
const compile = showme('compile');
const link = showme('link');
let out = [];
if (kind === 'include_dirs') out = compile.filter((f) => f.startsWith('-I')).map((f) => f.slice(2));
else if (kind === 'cflags') out = compile.filter((f) => !f.startsWith('-I'));
else if (kind === 'libs') out = link.filter((f) => f.startsWith('-l'));
else if (kind === 'ldflags') {
  const others = link.filter((f) => !f.startsWith('-l'));
  const rpaths = link.filter((f) => f.startsWith('-L')).map((f) => f.slice(2)).filter((d) => !systemDir(d)).map((d) => `-Wl,-rpath,${d}`);
  // RPATH (not RUNPATH): LD_LIBRARY_PATH must not swap the libmpi the binding was built for
  out = [...others, ...rpaths, ...(rpaths.length ? ['-Wl,--disable-new-dtags'] : [])];
} else if (kind === 'wrapper') out = [wrapper];
else { process.stderr.write(`mpiflags: unknown kind '${kind}'\n`); process.exit(2); }
process.stdout.write(out.join(' ') + '\n');
