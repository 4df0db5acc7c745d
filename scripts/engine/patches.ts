// Source patches, the way Spack's `patch('x.patch', when='@1.6')` works: a
// recipe lists them as data (`Recipe.patches`: a package-root-relative file
// under recipes/files/<recipe>/patches/, the semver range of versions it
// applies to, and why). The engine
//   - resolves them with the inputs (file and sha256 of its bytes), so a
//     patch enters the cache key and the lock like a configure argument;
//   - applies them, in table order, in the prepare phase before the builder's
//     own prepare: `patch -p1 --forward --batch` in the unpacked tree, each
//     first with --dry-run, so a patch that does not apply stops the build
//     naming the file and the version, and leaves no half-patched tree behind
//     (the tree is the build's own unpack, thrown away with the build dir).
// A patch file that is missing, or whose bytes changed between resolving and
// applying, is a PatchError, never a silent skip.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pickAll, type PatchInput, type Recipe, type Shell } from '../../recipes/kit/contract.js';
import { MpistackError } from '../foundation/errors.js';
import { sha256Text } from '../foundation/hash.js';
import { packageRoot } from '../foundation/package.js';

/** A recipe's patch is missing, changed since it was resolved, or does not apply to the tree. */
export class PatchError extends MpistackError {
  override name = 'PatchError';
}

/** The patches of `recipe` at `version`, in table order, with the sha256 of each file's bytes. */
export function patchInputs(recipe: Recipe, version: string, root = packageRoot()): PatchInput[] {
  return pickAll(recipe.patches ?? [], version).map((file) => {
    const abs = resolve(root, file);
    if (!existsSync(abs)) throw new PatchError(`${recipe.name} ${version}: patch ${file} is listed in the recipe's patches table but missing under ${root}`);
    return { file, sha256: sha256Text(readFileSync(abs)) };
  });
}

/** Apply `patches` to the tree at `srcDir` (each checked with --dry-run first); the log is the shell's. */
export async function applyPatches(
  recipe: string,
  version: string,
  patches: readonly PatchInput[],
  srcDir: string,
  shell: Shell,
  env: NodeJS.ProcessEnv,
  root = packageRoot(),
): Promise<void> {
  for (const p of patches) {
    const abs = resolve(root, p.file);
    const now = existsSync(abs) ? sha256Text(readFileSync(abs)) : 'missing';
    if (now !== p.sha256)
      throw new PatchError(`${recipe} ${version}: patch ${p.file} changed during the build (sha256 ${p.sha256} planned, ${now} now); run again`);
    const args = ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-i', abs];
    try {
      await shell.run('patch', ['--dry-run', ...args], { cwd: srcDir, env });
    } catch (e) {
      throw new PatchError(
        `${recipe} ${version}: patch ${p.file} does not apply to this source tree; ` +
          "fix the patch or narrow its version range in the recipe's patches table (the patch output is in the prepare log)",
        { cause: e },
      );
    }
    await shell.run('patch', args, { cwd: srcDir, env });
  }
}
