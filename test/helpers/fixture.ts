// A tiny autotools-style package made on the spot: a POSIX sh `configure`
// that writes a Makefile honouring DESTDIR, and C sources. `units` sets how
// much there is to compile (the benchmark uses more). A recipe for it uses
// the real autotools builder.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { autotools } from '../../recipes/builders/autotools.js';
import { type Recipe, SanityError } from '../../recipes/kit/index.js';

const CONFIGURE = `#!/bin/sh
# fixture configure: --prefix=DIR, --fail-with=CODE makes it fail like a real one
prefix=/usr/local
for a in "$@"; do
  case "$a" in
    --prefix=*) prefix="\${a#--prefix=}" ;;
    --fail-with=*) echo "checking for a working frobnicator... no"; echo "configure: error: no frobnicator found" >&2; exit "\${a#--fail-with=}" ;;
    --enable-greeting=*) greeting="\${a#--enable-greeting=}" ;;
    *) echo "configure: WARNING: unrecognized option $a" ;;
  esac
done
echo "checking for cc... \${CC:-cc}"
sed -e "s|@prefix@|$prefix|" -e "s|@greeting@|\${greeting:-hello}|" Makefile.in > Makefile
echo "config.status: creating Makefile"
`;

export interface Fixture {
  dir: string;
  tarball: string;
  filename: string;
  sha256: string;
}

/** Create fixture-<version>.tar.gz under `dir`. */
export function makeFixture(dir: string, version = '1.0.0', units = 4): Fixture {
  const name = `fixture-${version}`;
  const src = join(dir, name);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'configure'), CONFIGURE);
  chmodSync(join(src, 'configure'), 0o755);
  const objs: string[] = [];
  for (let i = 0; i < units; i++) {
    writeFileSync(join(src, `u${i}.c`), `int u${i}(int x) { int s = 0; for (int k = 0; k < x; k++) s += k * ${i + 1}; return s; }\n`);
    objs.push(`u${i}.o`);
  }
  writeFileSync(
    join(src, 'main.c'),
    `#include <stdio.h>\n#ifndef GREETING\n#define GREETING "hello"\n#endif\nint main(void) { printf("%s from fixture ${version}\\n", GREETING); return 0; }\n`,
  );
  writeFileSync(
    join(src, 'Makefile.in'),
    [
      'PREFIX = @prefix@',
      `OBJS = main.o ${objs.join(' ')}`,
      'all: fixture-hello',
      'fixture-hello: $(OBJS)',
      '\t$(CC) -o $@ $(OBJS)',
      '%.o: %.c',
      '\t$(CC) -O2 -DGREETING=\'"@greeting@"\' -c -o $@ $<',
      'install: fixture-hello',
      '\tmkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/fixture',
      '\tcp fixture-hello $(DESTDIR)$(PREFIX)/bin/fixture-hello',
      '\techo "installed for $(PREFIX)" > $(DESTDIR)$(PREFIX)/share/fixture/data.txt',
      '.PHONY: all install',
      '',
    ].join('\n'),
  );
  const filename = `${name}.tar.gz`;
  const tarball = join(dir, filename);
  execFileSync('tar', ['-czf', tarball, name], { cwd: dir });
  const sha256 = createHash('sha256').update(readFileSync(tarball)).digest('hex');
  return { dir, tarball, filename, sha256 };
}

/** A recipe for the fixture; `configureArgs` lets a test make configure fail. */
export function fixtureRecipe(fx: Fixture, version = '1.0.0', opts: { args?: string[]; check?: Recipe['check'] } = {}): Recipe {
  return {
    name: 'fixture',
    description: 'generated autotools-style test package',
    versions: [
      { version, default: true, sources: [{ kind: 'url', url: `http://127.0.0.1:9/unreachable/${fx.filename}`, filename: fx.filename, sha256: fx.sha256 }] },
    ],
    dependencies: [],
    builder: autotools,
    configureArgs: () => opts.args ?? ['--enable-greeting=hi'],
    check:
      opts.check ??
      (async (ctx) => {
        const out = await ctx.shell.run(join(ctx.root, 'bin', 'fixture-hello'), [], { cwd: ctx.workDir, env: ctx.runEnv, capture: true });
        if (!out.startsWith(`hi from fixture ${version}`)) throw new SanityError(ctx.recipe, 'greeting', `unexpected output '${out.trim()}'`);
      }),
  };
}
