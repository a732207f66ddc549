import type { Cell, DenseCell, PruneCell, RowCell } from '../types.js';
import { scenarioLabel, sparsityLabel } from './cell-ids.js';
import { type GridSpec, ORIGINAL_METHOD } from './grid-spec.js';

/**
 * Expand a grid spec to its cells, in dependency order (every cell's `needs` come before it),
 * sharing work: one dense model per (model, seed), one pruned model per (model, seed, non-zero
 * sparsity), and one row per (model, seed, scenario, sparsity, method), plus one `original`
 * row (the model before unlearning) per (model, seed, scenario, sparsity).
 *
 * @remarks All dense cells come first, then all prune cells, then the rows, so that a runner
 * taking cells in order starts every seed's training before any row. Ids are readable,
 * path-safe and stable (the same spec always gives the same ids):
 * `dense/resnet18/s1`, `prune/resnet18/s1/p0.95`, `row/resnet18/s1/class0/p0.95/ft+lora`
 * (the last segment is the method's label; the dense model's rows say `dense`).
 * @param spec - a resolved spec, as {@link parseGridSpec} returns it
 * @returns the cells; a row cell's `needs` is its dense cell (sparsity 0) or its prune cell
 * @example
 * ```ts
 * const cells = expandGrid(spec);
 * console.log(describeGrid(spec)); // "grid: 1 model × 3 seeds × ... = 6 dense, 6 prune, 96 rows"
 * ```
 */
export function expandGrid(spec: GridSpec): Cell[] {
  const dense: DenseCell[] = [];
  const prune: PruneCell[] = [];
  const rows: RowCell[] = [];
  for (const model of spec.models) {
    for (const seed of spec.seeds) {
      const denseId = `dense/${model}/s${seed}`;
      dense.push({ kind: 'dense', id: denseId, model, seed, needs: [] });
      for (const sparsity of spec.sparsities) {
        if (sparsity !== 0) prune.push({ kind: 'prune', id: pruneId(model, seed, sparsity), model, seed, sparsity, needs: [denseId] });
      }
      for (const scenario of spec.scenarios) {
        for (const sparsity of spec.sparsities) {
          const from = sparsity === 0 ? denseId : pruneId(model, seed, sparsity);
          const prefix = `row/${model}/s${seed}/${scenarioLabel(scenario)}/${sparsityLabel(sparsity)}`;
          rows.push({
            kind: 'row',
            id: `${prefix}/${ORIGINAL_METHOD}`,
            model,
            seed,
            scenario,
            sparsity,
            method: ORIGINAL_METHOD,
            needs: [from],
          });
          for (const m of spec.methods) {
            rows.push({
              kind: 'row',
              id: `${prefix}/${m.label}`,
              model,
              seed,
              scenario,
              sparsity,
              method: m.method,
              ...(m.options === undefined ? {} : { options: m.options }),
              ...(m.lora ? { lora: true } : {}),
              needs: [from],
            });
          }
        }
      }
    }
  }
  return [...dense, ...prune, ...rows];
}

function pruneId(model: string, seed: number, sparsity: number): string {
  return `prune/${model}/s${seed}/${sparsityLabel(sparsity)}`;
}

/**
 * The label of the method a row cell runs (`original`, `ft`, `ft+lora`, or the spec's own
 * `label`): the last segment of its id.
 *
 * @param cell - a row cell of {@link expandGrid}
 * @returns its method label
 */
export function rowCellLabel(cell: RowCell): string {
  return cell.id.slice(cell.id.lastIndexOf('/') + 1);
}

/** How many cells of each kind a grid has, for a one-line log. */
export interface GridCounts {
  dense: number;
  prune: number;
  /** Row cells, `original` rows included. */
  rows: number;
  /** All cells. */
  total: number;
}

/**
 * Count a grid's cells without building them.
 *
 * @param spec - a resolved spec
 * @returns the cell counts, with the same totals as {@link expandGrid}
 */
export function countGrid(spec: GridSpec): GridCounts {
  const lineages = spec.models.length * spec.seeds.length;
  const dense = lineages;
  const prune = lineages * spec.sparsities.filter((s) => s !== 0).length;
  const rows = lineages * spec.scenarios.length * spec.sparsities.length * (spec.methods.length + 1);
  return { dense, prune, rows, total: dense + prune + rows };
}

/**
 * One line describing a grid, for logs.
 *
 * @param spec - a resolved spec
 * @returns e.g. `grid "grid" (preset quick): 2 models × 3 seeds × 2 scenarios × 2 sparsities × 3 methods (+ original) = 6 dense, 6 prune, 96 rows (108 cells)`
 */
export function describeGrid(spec: GridSpec): string {
  const c = countGrid(spec);
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  return (
    `grid "${spec.name}" (preset ${spec.preset}): ${n(spec.models.length, 'model', 'models')} × ${n(spec.seeds.length, 'seed', 'seeds')} × ` +
    `${n(spec.scenarios.length, 'scenario', 'scenarios')} × ${n(spec.sparsities.length, 'sparsity', 'sparsities')} × ` +
    `${n(spec.methods.length, 'method', 'methods')} (+ original) = ${c.dense} dense, ${c.prune} prune, ${c.rows} rows (${c.total} cells)`
  );
}
