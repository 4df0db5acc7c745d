// Open MPI hostfiles and Torque's PBS_NODEFILE (seed 4.1.8-4.1.9, 6.2).
//
// Open MPI form, one host a line, `#` starts a comment:
//     foo.example.com
//     bar.example.com slots=2
//     yow.example.com slots=4 max-slots=4
//     10.0.0.7 slots=2
//     fe80::1 slots=2
// HOST is a host name (letters, digits, `_`, `-`, `.`; not starting with `-`
// or `.`) or an IPv4 or IPv6 address (as node's net.isIP takes them, so
// `::1` and `fe80::1%eth0` too). `slots=` and `max-slots=` (aliases `count=`,
// `cpu=`, `max_slots=`) are whole numbers from 1 to 2147483647: Open MPI
// keeps them in an int.
// PBS_NODEFILE form: a bare host name a line, repeated once per core the job
// holds on that host. Open MPI reads both; `fromPbsNodefile` turns the second
// into the first (one line a host, slots = how often it appeared).
import { isIP } from 'node:net';
import { MpistackError } from '../foundation/errors.js';

export interface HostEntry {
  host: string;
  /** slots on this host (Open MPI's default when absent: 1, or the core count with --use-hwthread-cpus etc.) */
  slots?: number;
  /** hard cap: Open MPI refuses to oversubscribe past it */
  maxSlots?: number;
}

/** A malformed hostfile line (or file, `line` null): names the file and the line, says what is wrong and what is accepted. */
export class HostfileError extends MpistackError {
  override name = 'HostfileError';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly problem: string,
  ) {
    super(`${line === null ? file : `${file}:${line}`}: ${problem}`);
  }
}

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** A host name or an IPv4/IPv6 address (see the format above). */
export function isHost(text: string): boolean {
  return NAME_RE.test(text) || isIP(text) !== 0;
}

/** The most slots a line may give (Open MPI keeps slot counts in an int). */
export const MAX_SLOTS = 2 ** 31 - 1;
const KEYS: Record<string, 'slots' | 'maxSlots'> = {
  slots: 'slots',
  count: 'slots',
  cpu: 'slots', // Open MPI's aliases for slots
  'max-slots': 'maxSlots',
  max_slots: 'maxSlots',
};

function positive(file: string, line: number, key: string, value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1)
    throw new HostfileError(file, line, `${key}=${JSON.stringify(value)} is not a positive whole number (write e.g. ${key}=2)`);
  const n = Number(value);
  if (n > MAX_SLOTS) throw new HostfileError(file, line, `${key}=${value} is more than ${MAX_SLOTS} (Open MPI keeps slot counts in an int)`);
  return n;
}

/** Parse Open MPI hostfile text (the PBS_NODEFILE form is a special case: bare names, repeats allowed). */
export function parseHostfile(text: string, file = 'hostfile'): HostEntry[] {
  const out: HostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const [host, ...attrs] = line.split(/\s+/);
    if (!isHost(host)) throw new HostfileError(file, lineNo, `${JSON.stringify(host)} is not a host name or address (a line is: HOST [slots=N] [max-slots=N])`);
    const entry: HostEntry = { host };
    for (const attr of attrs) {
      const eq = attr.indexOf('=');
      const key = eq > 0 ? attr.slice(0, eq) : attr;
      const field = KEYS[key];
      if (!field || eq < 0) throw new HostfileError(file, lineNo, `${JSON.stringify(attr)} is not understood (a line is: HOST [slots=N] [max-slots=N])`);
      if (entry[field] !== undefined) throw new HostfileError(file, lineNo, `${key} given twice`);
      entry[field] = positive(file, lineNo, key, attr.slice(eq + 1));
    }
    if (entry.slots !== undefined && entry.maxSlots !== undefined && entry.maxSlots < entry.slots) {
      throw new HostfileError(file, lineNo, `max-slots=${entry.maxSlots} is below slots=${entry.slots} (max-slots caps slots: raise it or drop it)`);
    }
    out.push(entry);
  });
  return out;
}

/** Merge repeated hosts (PBS_NODEFILE form: one line per core) into one entry each, in first-seen order; slots add up. */
function mergeHosts(entries: HostEntry[]): HostEntry[] {
  const byHost = new Map<string, HostEntry>();
  for (const e of entries) {
    const seen = byHost.get(e.host);
    if (!seen) {
      byHost.set(e.host, { ...e, slots: e.slots ?? 1 });
      continue;
    }
    seen.slots = (seen.slots ?? 1) + (e.slots ?? 1);
    if (e.maxSlots !== undefined) seen.maxSlots = Math.max(seen.maxSlots ?? 0, e.maxSlots);
  }
  return [...byHost.values()];
}

/** PBS_NODEFILE text -> Open MPI entries, one a host with slots = its number of lines. Attributes are refused: a nodefile has bare names. */
export function fromPbsNodefile(text: string, file = 'PBS_NODEFILE'): HostEntry[] {
  const entries = parseHostfile(text, file);
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.replace(/#.*$/, '').trim().split(/\s+/).length > 1)
      throw new HostfileError(file, i + 1, 'a PBS_NODEFILE line is a bare host name (one line per core); this looks like an Open MPI hostfile already');
  });
  return mergeHosts(entries);
}

/** Entries -> Open MPI hostfile text. */
export function formatHostfile(entries: HostEntry[]): string {
  return (
    entries
      .map((e) =>
        [e.host, e.slots !== undefined ? `slots=${e.slots}` : '', e.maxSlots !== undefined ? `max-slots=${e.maxSlots}` : ''].filter(Boolean).join(' '),
      )
      .join('\n') + '\n'
  );
}

/** Entries -> PBS_NODEFILE text: each host repeated once per slot. */
export function formatPbsNodefile(entries: HostEntry[]): string {
  return entries.flatMap((e) => Array.from({ length: e.slots ?? 1 }, () => e.host)).join('\n') + '\n';
}

/** Total slots (what `mpirun -hostfile` fills when no -n is given). */
export function totalSlots(entries: HostEntry[]): number {
  return entries.reduce((n, e) => n + (e.slots ?? 1), 0);
}
