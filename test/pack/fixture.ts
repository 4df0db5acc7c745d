// Small ELF fixtures for the pack tests, built with gcc in a temp directory:
//
//   <tmp>/ext/libc3.so                      outside the prefix: must be vendored
//   <prefix>/lib2/libb.so   NEEDED libc3.so RPATH <tmp>/ext
//   <prefix>/lib/liba.so    NEEDED libb.so  RPATH <prefix>/lib2
//   <prefix>/bin/app        NEEDED liba.so  RUNPATH <prefix>/lib (absolute, as builds do)
//
// app prints a+b+c's answer and the /proc/self/maps lines of the three libs.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Fixture {
  tmp: string;
  prefix: string;
  ext: string;
}

function gcc(args: string[], cwd: string): void {
  execFileSync('gcc', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function makeFixture(name = 'fx'): Fixture {
  const tmp = mkdtempSync(join(tmpdir(), `mpistack-${name}-`));
  const prefix = join(tmp, 'prefix');
  const ext = join(tmp, 'ext');
  for (const d of [ext, join(prefix, 'lib'), join(prefix, 'lib2'), join(prefix, 'bin'), join(prefix, 'src')]) mkdirSync(d, { recursive: true });
  const src = join(prefix, 'src');
  writeFileSync(join(src, 'c3.c'), 'int c3(void) { return 3; }\n');
  writeFileSync(join(src, 'b.c'), 'int c3(void);\nint b(void) { return 20 + c3(); }\n');
  writeFileSync(join(src, 'a.c'), 'int b(void);\nint a(void) { return 100 + b(); }\n');
  writeFileSync(
    join(src, 'app.c'),
    [
      '#include <stdio.h>',
      '#include <string.h>',
      'int a(void);',
      'int main(void) {',
      '  printf("answer %d\\n", a());',
      '  FILE *f = fopen("/proc/self/maps", "r"); char line[4096];',
      '  while (f && fgets(line, sizeof line, f)) if (strstr(line, "liba.so") || strstr(line, "libb.so") || strstr(line, "libc3.so")) fputs(line, stdout);',
      '  return 0;',
      '}',
      '',
    ].join('\n'),
  );
  gcc(['-shared', '-fPIC', '-o', join(ext, 'libc3.so'), 'c3.c'], src);
  gcc(['-shared', '-fPIC', '-o', join(prefix, 'lib2/libb.so'), 'b.c', `-L${ext}`, '-lc3', `-Wl,-rpath,${ext}`, '-Wl,--disable-new-dtags'], src);
  gcc(
    [
      '-shared',
      '-fPIC',
      '-o',
      join(prefix, 'lib/liba.so'),
      'a.c',
      `-L${join(prefix, 'lib2')}`,
      '-lb',
      `-Wl,-rpath,${join(prefix, 'lib2')}`,
      '-Wl,--disable-new-dtags',
    ],
    src,
  );
  gcc(['-o', join(prefix, 'bin/app'), 'app.c', `-L${join(prefix, 'lib')}`, '-la', `-Wl,-rpath,${join(prefix, 'lib')}`, '-Wl,--enable-new-dtags'], src);
  // text files that name the prefix, as installs do
  mkdirSync(join(prefix, 'lib/pkgconfig'), { recursive: true });
  writeFileSync(
    join(prefix, 'lib/pkgconfig/fx.pc'),
    `prefix=${prefix}\nlibdir=\${prefix}/lib\nName: fx\nVersion: 1\nDescription: fixture\nLibs: -L\${libdir} -Wl,-rpath,${prefix}/lib -la\n`,
  );
  writeFileSync(join(prefix, 'lib/liba.la'), `libdir='${prefix}/lib'\n`);
  mkdirSync(join(prefix, 'share/openmpi'), { recursive: true });
  writeFileSync(
    join(prefix, 'share/openmpi/mpicc-wrapper-data.txt'),
    `compiler=gcc\nlinker_flags=-Wl,-rpath -Wl,${prefix}/lib\nincludedir=${prefix}/include\n`,
  );
  mkdirSync(join(prefix, 'etc'), { recursive: true });
  writeFileSync(join(prefix, 'etc/openmpi-mca-params.conf'), `# installed in ${prefix}\n# btl = self,vader\n`);
  mkdirSync(join(prefix, 'lib/cmake/fx'), { recursive: true });
  writeFileSync(join(prefix, 'lib/cmake/fx/fxConfig.cmake'), `set(FX_INCLUDE_DIR "${prefix}/include")\n`);
  writeFileSync(join(prefix, 'bin/tool.pl'), `#!${prefix}/bin/perl\nprint "hi\\n";\n`);
  writeFileSync(join(prefix, 'bin/hello.js'), "#!/usr/bin/env node\nconsole.log('node ' + process.execPath);\n");
  chmodSync(join(prefix, 'bin/tool.pl'), 0o755);
  chmodSync(join(prefix, 'bin/hello.js'), 0o755);
  return { tmp, prefix, ext };
}
