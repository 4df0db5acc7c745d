// Which e2e files a second stack's run takes (test/run.js e2e --stack-only).

/**
 * e2e files that build what they test themselves and never read
 * MPISTACK_E2E_PREFIX: a run for a second stack leaves them out, since they
 * would test the same thing again (.ci/run runs the whole e2e suite on the
 * default stack, and the rest on the seed's). test/runner/runner.stack-files
 * holds this list to the files' contents.
 */
export const STACK_INDEPENDENT: readonly string[] = ['e2e/repro.fixture.test.js'];
