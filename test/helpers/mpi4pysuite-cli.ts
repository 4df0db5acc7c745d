// node mpi4pysuite-cli.js SPEC.json OUT.json: run mpi4py's suite as SPEC
// describes (a SuiteRun) and write the module results to OUT.json. The e2e
// test starts it inside a mount namespace that hides the build prefix.
import { readFileSync, writeFileSync } from 'node:fs';
import { runSuite, type SuiteSpec } from './mpi4pysuite.js';

const [spec, out] = process.argv.slice(2);
const run = JSON.parse(readFileSync(spec, 'utf8')) as SuiteSpec;
// the environment is this process's (the tree's env.sh sourced) with the spec's on top
writeFileSync(out, JSON.stringify(await runSuite({ ...run, env: { ...process.env, ...run.env } })));
