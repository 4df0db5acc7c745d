// Case recorder for scripts run on rank 0 under mpistack-run: each case is
// a name and a list of failed checks; the test file reads the RESULT line.
export interface CaseResult {
  name: string;
  failures: string[];
}

export class Report {
  readonly cases: CaseResult[] = [];
  async check(name: string, body: (expect: (cond: unknown, what: string) => void) => unknown): Promise<void> {
    const failures: string[] = [];
    try {
      await body((cond, what) => {
        if (!cond) failures.push(what);
      });
    } catch (e) {
      failures.push(`threw ${(e as Error)?.stack ?? String(e)}`);
    }
    this.cases.push({ name, failures });
  }
  print(): void {
    process.stdout.write(`\nMPISTACK-RESULT ${JSON.stringify(this.cases)}\n`);
  }
}

/** Parse the RESULT line out of mpirun's output. */
export function parseReport(stdout: string): CaseResult[] | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('MPISTACK-RESULT '));
  return line ? (JSON.parse(line.slice('MPISTACK-RESULT '.length)) as CaseResult[]) : undefined;
}

export async function throwsName(f: () => unknown, name: string): Promise<string | undefined> {
  try {
    await f();
    return `did not throw (expected ${name})`;
  } catch (e) {
    return (e as Error)?.name === name ? undefined : `threw ${(e as Error)?.name}: ${(e as Error)?.message} (expected ${name})`;
  }
}
