// MPIEnvironment: initialises MPI asking for MPI_THREAD_MULTIPLE, duplicates
// COMM_WORLD for the runtime, and says what it got, in the seed's words:
//   MPI Enabled at host <host> with rank <r> as MPIClient using MPI version <x.y> from <library> implementation
// or, when the library gives less than MULTIPLE, the seed's warning (level
// provided and how to enable it); the client then refuses to start services.
//
// The binding is found through native/index.ts's loadBinding: the module next
// to this one in the same tree (checkout or installed prefix), or the one
// named by MPISTACK_NATIVE_MODULE; MPISTACK_PREFIX is passed on to the loader.
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ThreadLevel, type Communicator, type MPIBinding } from '../native/api.js';
import type { ClientEnvironment } from './client.js';
import { BindingModuleError } from './errors.js';
import { MPITransport } from './mpi-transport.js';

const LEVEL_NAMES = ['MPI_THREAD_SINGLE', 'MPI_THREAD_FUNNELED', 'MPI_THREAD_SERIALIZED', 'MPI_THREAD_MULTIPLE'];

export function threadLevelName(level: number): string {
  return LEVEL_NAMES[level] ?? `thread level ${level}`;
}

/** "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
export function libraryName(versionString: string): string {
  const first = versionString.trim().split('\n')[0] ?? '';
  return (first.split(',')[0] ?? first).trim() || 'unknown MPI';
}

export function enabledLine(host: string, rank: number, role: 'MPIClient' | 'MPIServer', version: { major: number; minor: number }, library: string): string {
  return `MPI Enabled at host ${host} with rank ${rank} as ${role} using MPI version ${version.major}.${version.minor} from ${library} implementation`;
}

export function threadWarning(library: string, provided: number): string[] {
  return [
    `Provided MPI implementation (${library}) is not thread safe configured, maximum thread safe level supported is: ${threadLevelName(provided)}`,
    'NOTE: In most MPI implementations thread-safety can be enabled at pre-compile, by setting explicit thread-safe configuration options,',
    'e.g. (Open MPI 1.7-2.x) --enable-mpi-thread-multiple (Open MPI >= 3.0 always has it built in)',
  ];
}

export interface InitOptions {
  /** use this binding instead of loading one */
  binding?: MPIBinding;
  /** module that exports loadBinding (default: ../native/index.js next to this file) */
  nativeModule?: string;
  prefix?: string;
}

let current: MPIEnvironment | undefined;

export class MPIEnvironment implements ClientEnvironment {
  /** The environment of this process, once init() has run. */
  static get current(): MPIEnvironment | undefined {
    return current;
  }

  static async loadBinding(opts: InitOptions = {}): Promise<MPIBinding> {
    if (opts.binding) return opts.binding;
    const spec = opts.nativeModule ?? process.env.MPISTACK_NATIVE_MODULE;
    const url = spec ? (/^[a-z]+:/.test(spec) ? spec : pathToFileURL(spec).href) : new URL('../native/index.js', import.meta.url).href;
    let mod: { loadBinding?: (o?: { path?: string; prefix?: string }) => MPIBinding };
    try {
      mod = (await import(url)) as typeof mod;
    } catch (e) {
      throw new BindingModuleError(`cannot load the MPI binding module ${url}: ${(e as Error).message}`, url, { cause: e });
    }
    if (typeof mod.loadBinding !== 'function') throw new BindingModuleError(`${url} does not export loadBinding()`, url);
    const prefix = opts.prefix ?? process.env.MPISTACK_PREFIX;
    return mod.loadBinding(prefix ? { prefix } : {});
  }

  /** Initialise MPI (MPI_THREAD_MULTIPLE requested) once per process. */
  static async init(opts: InitOptions = {}): Promise<MPIEnvironment> {
    if (current) return current;
    const binding = await MPIEnvironment.loadBinding(opts);
    const provided = binding.isInitialized() ? ThreadLevel.MULTIPLE : binding.initThread(ThreadLevel.MULTIPLE);
    current = new MPIEnvironment(binding, provided);
    return current;
  }

  readonly host: string;
  readonly rank: number;
  readonly size: number;
  readonly library: string;
  readonly version: { major: number; minor: number };
  readonly comm: Communicator;
  readonly transport: MPITransport;
  readonly threadWarning: string[] | undefined;

  private constructor(
    readonly binding: MPIBinding,
    readonly threadLevel: number,
  ) {
    this.host = safe(() => binding.processorName(), hostname());
    this.rank = binding.COMM_WORLD.rank;
    this.size = binding.COMM_WORLD.size;
    this.library = libraryName(safe(() => binding.libraryVersion(), 'unknown MPI'));
    this.version = safe(() => binding.version(), { major: 0, minor: 0 });
    this.comm = binding.COMM_WORLD.dup();
    this.transport = new MPITransport(this.comm);
    this.threadWarning = threadLevel < ThreadLevel.MULTIPLE ? threadWarning(this.library, threadLevel) : undefined;
  }

  get threadLevelName(): string {
    return threadLevelName(this.threadLevel);
  }
  get role(): 'MPIClient' | 'MPIServer' {
    return this.rank === 0 ? 'MPIClient' : 'MPIServer';
  }
  get enabledLine(): string {
    return enabledLine(this.host, this.rank, this.role, this.version, this.library);
  }

  finalize(): void {
    if (!this.binding.isFinalized()) this.binding.finalize();
  }
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}
