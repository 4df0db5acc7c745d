// The recipe kit: the one module a recipe or a builder imports (besides a
// recipe's builders). The contract, the errors, the run environments, ldd,
// the recipe's own files and the check helpers. Nothing here imports the
// engine: the engine imports the contract.
export * from './check.js';
export * from './contract.js';
export * from './env.js';
export * from './errors.js';
export * from './files.js';
export * from './ldd.js';
// the canonical JSON text of a value (sorted keys): how a check compares what a program printed with what it expected
export { canonicalJson } from '../../scripts/foundation/hash.js';
