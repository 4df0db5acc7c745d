// The one place the task-tree renderer is chosen: interactive on a TTY, plain
// timestamped lines in CI, without a TTY or with --verbose, nothing in tests.
import { PRESET_TIMESTAMP } from 'listr2';

export type RenderMode = 'interactive' | 'plain' | 'silent';

export function chooseRenderMode(o: { silent?: boolean; verbose?: boolean; isTTY?: boolean; env?: NodeJS.ProcessEnv } = {}): RenderMode {
  const env = o.env ?? process.env;
  if (o.silent) return 'silent';
  if (o.verbose || env.CI || !(o.isTTY ?? process.stdout.isTTY)) return 'plain';
  return 'interactive';
}

export function listrRenderer(mode: RenderMode) {
  if (mode === 'silent') return { renderer: 'silent' as const };
  if (mode === 'plain') return { renderer: 'simple' as const, rendererOptions: { timestamp: PRESET_TIMESTAMP } };
  return { renderer: 'default' as const, rendererOptions: { collapseSubtasks: false } };
}
