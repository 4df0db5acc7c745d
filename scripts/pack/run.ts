// The one way pack runs an external tool (patchelf, strip): explicit cwd and
// environment, output captured, failure as one typed error; and pack's own
// error, naming the step that failed.
import { spawn } from 'node:child_process';
import { MpistackError } from '../foundation/errors.js';

/** An external tool exited non-zero (`status`; null: it could not start or was killed). */
class ToolError extends MpistackError {
  override name = 'ToolError';
  constructor(
    readonly step: string,
    readonly command: string[],
    readonly status: number | null,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(`${step}: '${command.join(' ')}' exited with ${status}${output ? `\n${output.trim().split('\n').slice(-10).join('\n')}` : ''}`, options);
  }
}

/** Pack refused or failed at `step`; `lines` are the cases (a leak, a missing library) one a line. */
export class PackError extends MpistackError {
  override name = 'PackError';
  // not `details`: uvu's reporter calls err.details.split() and, on an array, loses the failure silently
  constructor(
    readonly step: string,
    message: string,
    readonly lines: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  override report(): string {
    return [`${this.step}: ${this.message}`, ...this.lines.map((d) => `  ${d}`)].join('\n');
  }
}

interface RunOut {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command; resolves with its output, rejects with ToolError on non-zero exit. */
export function tool(step: string, argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Promise<RunOut> {
  return new Promise((resolvePromise, reject) => {
    const [cmd = '', ...args] = argv;
    const env = opts.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
    const child = spawn(cmd, args, { cwd: opts.cwd ?? process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (e) => reject(new ToolError(step, argv, null, String(e), { cause: e })));
    child.on('close', (code) => {
      if (code !== 0 && !opts.allowFail) reject(new ToolError(step, argv, code, stdout + stderr));
      else resolvePromise({ code, stdout, stderr });
    });
  });
}
