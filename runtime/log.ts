// The client's log sink. Every line, the client's own and those the servers
// forward (their log calls and console output), is written with its origin:
// `MPIClient@host` or `MPIServer-<rank>@host`. Modes:
//   file        one unified file (default)
//   per-server  the client's file plus one file per server (<base>.server-<rank>.log)
//   terminal    the client's terminal (stdout)
// Writes are synchronous on an open descriptor: a line is on disk before the
// call returns, so nothing is lost when the process exits or aborts.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import type { LogLevel, LogMode } from './protocol.js';

export interface LogSettings {
  mode: LogMode;
  /** the unified (or client) log file; relative paths are taken from cwd */
  file: string;
  level: LogLevel;
}

const ORDER: Record<LogLevel, number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };

export function defaultLogSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LogSettings {
  const mode = (env.MPISTACK_LOG_MODE ?? 'file') as LogMode;
  if (!['file', 'per-server', 'terminal'].includes(mode)) throw new RangeError(`MPISTACK_LOG_MODE must be file, per-server or terminal, not '${mode}'`);
  const level = (env.MPISTACK_LOG_LEVEL ?? 'INFO').toUpperCase() as LogLevel;
  if (!(level in ORDER)) throw new RangeError(`MPISTACK_LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not '${level}'`);
  return { mode, file: resolve(cwd, env.MPISTACK_LOG_FILE ?? 'mpistack.log'), level };
}

export function originName(rank: number, host: string): string {
  return rank === 0 ? `MPIClient@${host}` : `MPIServer-${rank}@${host}`;
}

export function formatLine(time: Date, level: LogLevel, origin: string, text: string): string {
  const lines = text.replace(/\n+$/, '').split('\n');
  const head = `${time.toISOString()} ${level.padEnd(5)} ${origin}:`;
  return lines.map((l, i) => (i === 0 ? `${head} ${l}` : `${head}+ ${l}`)).join('\n') + '\n';
}

export class RuntimeLogger {
  private readonly fds = new Map<string, number>();
  private closed = false;

  constructor(
    readonly settings: LogSettings,
    private readonly out: (text: string) => void = (t) => {
      process.stdout.write(t);
    },
  ) {}

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.settings.level];
  }

  /** rank 0 = the client. */
  write(rank: number, host: string, level: LogLevel, text: string): void {
    if (!this.enabled(level)) return;
    const line = formatLine(new Date(), level, originName(rank, host), text);
    if (this.closed || this.settings.mode === 'terminal') {
      this.out(line);
      return;
    }
    const file = this.settings.mode === 'per-server' && rank !== 0 ? perServerFile(this.settings.file, rank) : this.settings.file;
    writeSync(this.fd(file), line);
  }

  close(): void {
    this.closed = true;
    for (const fd of this.fds.values()) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    this.fds.clear();
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      mkdirSync(dirname(file), { recursive: true });
      fd = openSync(file, 'a');
      this.fds.set(file, fd);
    }
    return fd;
  }
}

export function perServerFile(file: string, rank: number): string {
  const ext = extname(file);
  return `${ext ? file.slice(0, -ext.length) : file}.server-${rank}${ext || '.log'}`;
}
