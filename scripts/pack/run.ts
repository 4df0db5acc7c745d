// The one way pack runs an external tool (patchelf, strip): explicit cwd and
// environment, output captured, failure as one typed error.
import { spawn } from 'node:child_process';

export class ToolError extends Error {
  constructor(readonly step: string, readonly command: string[], readonly exitCode: number | null, readonly output: string, options?: { cause?: unknown }) {
    super(`${step}: '${command.join(' ')}' exited with ${exitCode}${output ? `\n${output.trim().split('\n').slice(-10).join('\n')}` : ''}`, options);
    this.name = 'ToolError';
  }
}

export class PackError extends Error {
  // not `details`: uvu's reporter calls err.details.split() and, on an array, loses the failure silently
  constructor(readonly step: string, message: string, readonly lines: string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PackError';
  }
  report(): string {
    return [`${this.step}: ${this.message}`, ...this.lines.map((d) => `  ${d}`)].join('\n');
  }
}

export interface RunOut { code: number | null; stdout: string; stderr: string }

/** Run a command; resolves with its output, rejects with ToolError on non-zero exit. */
export function tool(step: string, argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Promise<RunOut> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd ?? process.cwd(), env: opts.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e) => reject(new ToolError(step, argv, null, String(e), { cause: e })));
    child.on('close', (code) => {
      if (code !== 0 && !opts.allowFail) reject(new ToolError(step, argv, code, stdout + stderr));
      else resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). Tells a killed run's leftovers from a running one's. */
export function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Run fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
