// The two ways a recipe (or a builder) says no. Both derive from the
// builder's error root (scripts/foundation/errors.ts); a recipe never throws
// UsageError: the command line is the commands' business.
import { MpistackError } from '../../scripts/foundation/errors.js';

/** A sanity check that did not hold: names the recipe, the check and what was seen. */
export class SanityError extends MpistackError {
  override name = 'SanityError';
  constructor(
    readonly recipe: string,
    readonly check: string,
    detail: string,
  ) {
    super(`${recipe}: sanity check '${check}' failed: ${detail}`);
  }
}

/** A recipe or builder that cannot go on: a tree it cannot build, a tool it needs and does not find, a version its tables do not cover. */
export class RecipeError extends MpistackError {
  override name = 'RecipeError';
}
