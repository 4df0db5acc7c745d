// A package that records everything a careless build leaks: the date and
// time (__DATE__, __TIME__, `date`), the user and host (`whoami`,
// `hostname`, $USER), the build directory (__FILE__ of an absolute source
// path, DWARF comp_dir with -g), and the file mode mask. Built in the
// deterministic environment, two builds must still be byte-identical.
// `noise: true` adds a genuinely random constant and a random text line, so
// a test can see how check-reproducible reports a difference.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { autotools } from '../../recipes/builders/autotools.js';
import { type Recipe, SanityError } from '../../recipes/kit/index.js';

const CONFIGURE = `#!/bin/sh
prefix=/usr/local
for a in "$@"; do case "$a" in --prefix=*) prefix="\${a#--prefix=}" ;; esac; done
# what Open MPI's configure records: who, where, when
cat > buildinfo.h <<EOT
#define CONFIGURED_BY "$(whoami) \${USER:-unknown} \${LOGNAME:-unknown}"
#define CONFIGURED_ON "$(hostname) \${HOSTNAME:-unknown}"
#define CONFIGURED_AT "$(date)"
EOT
sed -e "s|@prefix@|$prefix|" Makefile.in > Makefile
`;

const MAIN_C = `#include <stdio.h>
#include "buildinfo.h"
#include "noise.h"
const char *built_at = __DATE__ " " __TIME__;
const char *source_file = __FILE__;
int main(void) {
  printf("by %s on %s at %s / %s in %s %s\\n", CONFIGURED_BY, CONFIGURED_ON, CONFIGURED_AT, built_at, source_file, NOISE);
  return 0;
}
`;

export interface ReproFixture {
  dir: string;
  filename: string;
  sha256: string;
}

export function makeReproFixture(dir: string, opts: { noise?: boolean } = {}): ReproFixture {
  const name = `leaky-1.0.0`;
  const src = join(dir, name);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'configure'), CONFIGURE);
  chmodSync(join(src, 'configure'), 0o755);
  writeFileSync(join(src, 'main.c'), MAIN_C);
  const noise = opts.noise
    ? '\tprintf \'#define NOISE "%s"\\n\' "$$(od -An -N8 -tx8 /dev/urandom | tr -d \' \')" > noise.h\n'
    : '\tprintf \'#define NOISE "quiet"\\n\' > noise.h\n';
  writeFileSync(
    join(src, 'Makefile.in'),
    [
      'PREFIX = @prefix@',
      'all: leaky',
      'noise.h:',
      noise.replace(/\n$/, ''),
      'leaky: main.c noise.h',
      // an absolute source path: __FILE__ and DWARF name the build directory
      '\t$(CC) -g -O1 -o leaky $(CURDIR)/main.c',
      'install: leaky',
      '\tmkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/leaky',
      '\tcp leaky $(DESTDIR)$(PREFIX)/bin/leaky',
      '\t./leaky > $(DESTDIR)$(PREFIX)/share/leaky/stamp.txt',
      // a file created under the build step's umask
      '\techo data > $(DESTDIR)$(PREFIX)/share/leaky/data.txt',
      ...(opts.noise ? ['\tod -An -N4 -tx4 /dev/urandom > $(DESTDIR)$(PREFIX)/share/leaky/random.txt'] : []),
      '.PHONY: all install',
      '',
    ].join('\n'),
  );
  const filename = `${name}.tar.gz`;
  execFileSync('tar', ['-czf', filename, name], { cwd: dir });
  return {
    dir,
    filename,
    sha256: createHash('sha256')
      .update(readFileSync(join(dir, filename)))
      .digest('hex'),
  };
}

export function reproFixtureRecipe(fx: ReproFixture): Recipe {
  return {
    name: 'leaky',
    description: 'a package that records date, user, host and build directory',
    versions: [
      {
        version: '1.0.0',
        default: true,
        sources: [{ kind: 'url', url: `http://127.0.0.1:9/unreachable/${fx.filename}`, filename: fx.filename, sha256: fx.sha256 }],
      },
    ],
    dependencies: [],
    builder: autotools,
    configureArgs: () => [],
    check: async (ctx) => {
      const out = await ctx.shell.run(join(ctx.root, 'bin', 'leaky'), [], { cwd: ctx.workDir, env: ctx.runEnv, capture: true });
      if (!out.startsWith('by ')) throw new SanityError(ctx.recipe, 'runs', `unexpected output '${out.trim()}'`);
    },
  };
}
