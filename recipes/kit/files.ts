// A recipe's own files: check programs (C, C++, Fortran, Python, JavaScript,
// CMake projects) and files it installs, kept as files, not as strings:
//
//   recipes/files/<recipe>/<name>
//
// They are found from the package root, never from this module's location,
// so the compiled tree (dist/ holds JavaScript only) finds the same files;
// package.json ships recipes/ with the package. A recipe names the files its
// hooks read in `Recipe.files` (recipeFiles below), so that their bytes enter
// the build cache key.
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { packageRoot, packageVersion } from '../../scripts/foundation/package.js';

export { packageRoot, packageVersion };

/** Package-root-relative folder of a recipe's files. */
function recipeFilesDir(recipe: string): string {
  return `recipes/files/${recipe}`;
}

/** Package-root-relative paths of some of a recipe's files: what a recipe lists in `Recipe.files`. */
export function recipeFiles(recipe: string, names: readonly string[]): string[] {
  return names.map((n) => `${recipeFilesDir(recipe)}/${n}`);
}

/** The absolute path of one of a recipe's files. */
export function recipeFile(recipe: string, name: string): string {
  return join(packageRoot(), recipeFilesDir(recipe), name);
}

/** Copy some of a recipe's files into `dir` (created), each under its base name (cmake-probe/CMakeLists.txt -> dir/CMakeLists.txt); returns their new paths. */
export async function copyRecipeFiles(recipe: string, names: readonly string[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const out: string[] = [];
  for (const n of names) {
    const to = join(dir, basename(n));
    await copyFile(recipeFile(recipe, n), to);
    out.push(to);
  }
  return out;
}
