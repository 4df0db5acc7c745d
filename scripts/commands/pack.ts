// mpistack pack --prefix=DIR [--out DIR] [--strip] [--explain]: a stand-alone,
// relocatable tree of a built stack, as a deterministic tarball.
import { UsageError } from '../foundation/errors.js';
import { DEFAULT_SOURCE_DATE_EPOCH } from '../foundation/layout.js';
import { BASE_LIBRARIES } from '../pack/basesystem.js';
import { LEAK_ALLOW } from '../pack/leak.js';
import { explainResult, pack } from '../pack/pack.js';
import { TEXT_RULES } from '../pack/text.js';
import { parseOptions } from './_options.js';

export const describe = 'make a built prefix stand-alone and relocatable; write mpistack-<version>-linux-x86_64.tar.gz + SHA256SUMS';

const HELP = `usage: mpistack pack --prefix=DIR [options]
  --prefix DIR          the built stack prefix (read only; never modified)
  --out DIR             where the tarball and SHA256SUMS go (default: dist)
  --build-prefix DIR    the path the prefix was configured for, if it moved since
                        (default: share/mpistack/manifest.json's prefix, else --prefix)
  --build-dir DIR       a build directory to leak-check for (repeatable; default: from the manifest)
  --cache-dir DIR       a cache directory to leak-check for (repeatable; default: from the manifest)
  --version V           version in the tarball name (default: this package's)
  --node PATH           node binary to bundle as bin/node (default: this node)
  --no-node             bundle no node binary
  --strip               strip debug info from every ELF file (strip --strip-debug)
  --explain             print the base-system list, the rules, and what happened to each library
  --keep-staging        keep the staging tree (for inspection)
SOURCE_DATE_EPOCH (env) sets every mtime; else the build manifest's; else ${DEFAULT_SOURCE_DATE_EPOCH} (1980-01-01).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    {
      args: argv,
      options: {
        prefix: { type: 'string' },
        out: { type: 'string', default: 'dist' },
        'build-prefix': { type: 'string' },
        'build-dir': { type: 'string', multiple: true },
        'cache-dir': { type: 'string', multiple: true },
        version: { type: 'string' },
        node: { type: 'string' },
        'no-node': { type: 'boolean', default: false },
        strip: { type: 'boolean', default: false },
        explain: { type: 'boolean', default: false },
        'keep-staging': { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.explain) {
    console.log('base system (not vendored; the node provides these):');
    for (const b of BASE_LIBRARIES) console.log(`  ${b.kind.padEnd(8)} ${String(b.pattern).padEnd(36)} ${b.why}`);
    console.log('text rules (first match applies; then any #! line is rewritten):');
    for (const r of TEXT_RULES) console.log(`  ${String(r.match).padEnd(60)} ${r.name}`);
    console.log('leak allow-list:');
    for (const a of LEAK_ALLOW)
      console.log(
        `  [${a.labels.join(', ')}] ` +
          `${a.file ? `file ${a.file} ` : ''}${a.section ? `section ${a.section} ` : ''}${a.text ? `string ${a.text} ` : ''}\n      ${a.why}`,
      );
    if (!values.prefix) return 0;
    console.log('');
  }
  if (!values.prefix) throw new UsageError(`--prefix is required\n\n${HELP}`);
  const started = Date.now();
  const r = await pack({
    prefix: values.prefix,
    out: values.out,
    buildPrefix: values['build-prefix'],
    buildDirs: values['build-dir'],
    cacheDirs: values['cache-dir'],
    version: values.version,
    node: values['no-node'] ? false : values.node,
    strip: values.strip,
    keepStaging: values['keep-staging'],
    log: values.quiet ? undefined : (l) => console.log(`pack: ${l}`),
  });
  if (values.explain) for (const l of explainResult(r)) console.log(l);
  const allowed = r.leaks.filter((h) => h.allowedBy).length;
  console.log(
    `${r.tarball}\n  sha256 ${r.sha256}\n  ${r.size} bytes, ${r.closure.objects.length} ELF objects (${r.patched} RPATHs set), ` +
      `${r.closure.vendored.length} libraries vendored, ${r.text.length} text changes, leak check: 0 leaks (${allowed} allowed), ` +
      `SOURCE_DATE_EPOCH ${r.sourceDateEpoch}, ${Date.now() - started} ms`,
  );
  if (r.staging) console.log(`  staging kept at ${r.staging}`);
  return 0;
}
