// The Node MPI binding (issue 3): the contract (api.ts) and the one loader
// (loader.ts). binding.ts is the typed wrapper over the thin C++ addon,
// errors.ts its errors, exit.ts the exit patch.
export * from './api.js';
export { candidatePaths, loadBinding } from './loader.js';
