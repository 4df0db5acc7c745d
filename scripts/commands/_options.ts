// What the commands share: option parsing (node's parseArgs, whatever it
// refuses turned into a UsageError that carries the command's help), and the
// --python option of build and lock. A file whose name starts with `_` is no
// command (cli.ts lists the others).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { probePython, PythonError, type PythonInfo } from '../../recipes/mpi4py.js';
import { UsageError } from '../foundation/errors.js';

/** parseArgs, strict; an unknown option or a missing value is a UsageError followed by `help`. */
export function parseOptions<T extends ParseArgsConfig>(config: T, help: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${help}`, { cause: e });
  }
}

/** The interpreter --python names, probed; one that is no usable Python 3 is a UsageError. */
export function pythonOption(path: string): PythonInfo {
  try {
    return probePython(path);
  } catch (e) {
    if (e instanceof PythonError) throw new UsageError(`--python ${e.path}: ${e.problem}`, { cause: e });
    throw e;
  }
}
