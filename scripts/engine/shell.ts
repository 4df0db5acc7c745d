// The one way the engine runs external commands (the kit's Shell contract):
// explicit cwd and env, output appended to a log file per recipe and phase,
// failure as one CommandError carrying the log's last lines.
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Shell } from '../../recipes/kit/contract.js';
import { shellQuote } from '../foundation/sh.js';
import { CommandError } from './errors.js';

const TAIL_LINES = 20;

async function logTail(path: string, n = TAIL_LINES): Promise<string[]> {
  try {
    const lines = (await readFile(path, 'utf8')).split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-n);
  } catch {
    return [];
  }
}

function commandLine(cmd: string, args: string[]): string {
  return [cmd, ...args].map(shellQuote).join(' ');
}

/** `umask`: every command runs under this file mode mask (through /bin/sh's `umask`; the log shows the command itself). */
export function makeShell(recipe: string, phase: string, logPath: string, o: { umask?: number } = {}): Shell {
  return {
    recipe,
    phase,
    logPath,
    run(cmd, args, opts) {
      const line = commandLine(cmd, args);
      const fd = openSync(logPath, 'a');
      writeSync(fd, `$ (cd ${shellQuote(opts.cwd)} && ${line})\n`);
      return new Promise<string>((resolvePromise, reject) => {
        let out = '';
        let settled = false;
        const [file, argv] =
          o.umask === undefined ? [cmd, args] : ['/bin/sh', ['-c', `umask ${o.umask.toString(8).padStart(3, '0')} && exec "$0" "$@"`, cmd, ...args]];
        const child = spawn(file, argv, {
          cwd: opts.cwd,
          env: opts.env,
          detached: true,
          stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.capture ? 'pipe' : fd, fd],
        });
        if (opts.input !== undefined) child.stdin!.end(opts.input);
        if (opts.capture)
          child.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            writeSync(fd, d);
          });
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              writeSync(fd, `\n[mpistack] timed out after ${opts.timeoutMs} ms: killing the process group\n`);
              try {
                process.kill(-child.pid!, 'SIGKILL');
              } catch {
                /* gone */
              }
            }, opts.timeoutMs)
          : undefined;
        const fail = async (code: number | null, cause?: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          try {
            closeSync(fd);
          } catch {
            /* closed */
          }
          reject(new CommandError(recipe, phase, line, code, logPath, await logTail(logPath), cause === undefined ? undefined : { cause }));
        };
        child.on('error', (e) => {
          void fail(null, e);
        });
        child.on('close', (code, signal) => {
          if (settled) return;
          if (code === 0) {
            settled = true;
            clearTimeout(timer);
            closeSync(fd);
            resolvePromise(out);
          } else void fail(code, signal ? new Error(`killed by ${signal}`) : undefined);
        });
      });
    },
  };
}
