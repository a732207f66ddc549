import type { Cell, Scenario } from '../types.js';

/**
 * The path-safe label of a scenario, used in cell ids, artifact keys and report headings.
 *
 * @param scenario - a forgetting scenario
 * @returns `class0` (whole class 0), `class0-n100` (100 images of class 0) or `random450`
 *   (450 images drawn at random)
 * @example
 * ```ts
 * scenarioLabel({ class: 3, count: 100 }); // 'class3-n100'
 * ```
 */
export function scenarioLabel(scenario: Scenario): string {
  if ('random' in scenario) return `random${scenario.random}`;
  return scenario.count === undefined ? `class${scenario.class}` : `class${scenario.class}-n${scenario.count}`;
}

/** Significant digits a sparsity keeps in ids: enough for any sparsity anyone types, short for the rest. */
const SPARSITY_DIGITS = 6;

/**
 * The path-safe label of a sparsity, used in cell ids and artifact keys.
 *
 * @remarks Rounded to 6 significant digits so that a float computed elsewhere
 * (`0.1 + 0.2`) still gets a short, stable label (`p0.3`); {@link parseGridSpec} refuses two
 * sparsities whose labels are equal, so a label names one sparsity of a grid.
 * @param sparsity - 0 (the dense model) or a target sparsity in (0, 1)
 * @returns `dense` for 0, else `p` and the number (`0.95` → `p0.95`, `0.5` → `p0.5`)
 */
export function sparsityLabel(sparsity: number): string {
  if (sparsity === 0) return 'dense';
  return `p${String(Number(sparsity.toPrecision(SPARSITY_DIGITS)))}`;
}

/**
 * The artifact key a cell writes its output under: the one place that names artifacts, so a
 * runner, a worker and the report agree.
 *
 * @param cell - a cell of {@link expandGrid}
 * @returns `<id>.ckpt` for dense and prune cells (a checkpoint), `<id>.json` for row cells (a
 *   result row)
 */
export function cellArtifactKey(cell: Cell): string {
  return cell.kind === 'row' ? `${cell.id}.json` : `${cell.id}.ckpt`;
}
