import { UnlearnError } from '../errors/unlearn-error.js';
import type { Rng } from '../random/rng.js';
import type { ImageSet } from './image-set.js';

/**
 * A view of some images of an {@link ImageSet}: the positions, in `source`, of its members.
 *
 * @remarks No pixels are copied: train, validation, forget and retain sets all share the one
 * loaded array. Indices may repeat only if the caller builds them so; the helpers here never
 * repeat one.
 */
export type Subset = {
  /** The image set the indices point into. */
  readonly source: ImageSet;
  /** Positions in `source`, in subset order. */
  readonly indices: Int32Array;
};

function invalid(field: string, message: string, value: unknown): UnlearnError {
  return new UnlearnError('UNLEARN_INVALID_OPTIONS', message, { details: { field, value } });
}

function checkCount(field: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw invalid(field, `${field} must be an integer >= 0, got ${n}.`, n);
}

/**
 * A subset holding every image of `set`, in order.
 *
 * @param set - the image set
 * @returns the subset `0..set.size-1`
 */
export function fullSubset(set: ImageSet): Subset {
  const indices = new Int32Array(set.size);
  for (let i = 0; i < set.size; i++) indices[i] = i;
  return { source: set, indices };
}

/**
 * A subset from explicit positions.
 *
 * @param set - the image set
 * @param indices - positions in `set` (kept as given, not copied when already an Int32Array)
 * @returns the subset
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when an index is outside `0..set.size-1`
 */
export function subsetOf(set: ImageSet, indices: Int32Array | readonly number[]): Subset {
  const idx = indices instanceof Int32Array ? indices : Int32Array.from(indices);
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= set.size || !Number.isInteger(idx[i])) {
      throw invalid('indices', `indices[${i}] is ${idx[i]}, outside 0..${set.size - 1}.`, idx[i]);
    }
  }
  return { source: set, indices: idx };
}

/**
 * Number of images in a subset.
 * @param subset - the subset
 * @returns `subset.indices.length`
 */
export function subsetSize(subset: Subset): number {
  return subset.indices.length;
}

/**
 * The labels of a subset's images, in subset order.
 * @param subset - the subset
 * @returns a new array, `out[k] = source.labels[indices[k]]`
 */
export function subsetLabels(subset: Subset): Uint8Array {
  const { indices, source } = subset;
  const out = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) out[k] = source.labels[indices[k]];
  return out;
}

/**
 * The first `n` images of a subset (all of them when it has fewer), as a view.
 *
 * @param subset - the subset
 * @param n - how many, an integer >= 0
 * @returns a subset sharing `subset.indices`' memory
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `n` is not an integer >= 0
 */
export function takeFirst(subset: Subset, n: number): Subset {
  checkCount('n', n);
  return { source: subset.source, indices: subset.indices.subarray(0, Math.min(n, subset.indices.length)) };
}

/**
 * Up to `nPerClass` images of each class, kept in subset order.
 *
 * @param subset - the subset
 * @param nPerClass - how many per class, an integer >= 0; a class with fewer gives all it has
 * @param rng - when given, a seeded uniform choice within each class; otherwise the first
 *   `nPerClass` of each class in subset order
 * @returns a new subset (its indices are a copy)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `nPerClass` is not an integer >= 0
 */
export function takePerClass(subset: Subset, nPerClass: number, rng?: Rng): Subset {
  checkCount('nPerClass', nPerClass);
  const { indices, source } = subset;
  const numClasses = source.classNames.length;
  const keep = new Uint8Array(indices.length);
  if (rng === undefined) {
    const taken = new Int32Array(numClasses);
    for (let k = 0; k < indices.length; k++) {
      const c = source.labels[indices[k]];
      if (taken[c] < nPerClass) {
        taken[c]++;
        keep[k] = 1;
      }
    }
  } else {
    const byClass = positionsByClass(subset);
    for (const positions of byClass) for (const k of chooseK(positions, nPerClass, rng)) keep[k] = 1;
  }
  let m = 0;
  for (let k = 0; k < keep.length; k++) m += keep[k];
  const out = new Int32Array(m);
  for (let k = 0, j = 0; k < keep.length; k++) if (keep[k]) out[j++] = indices[k];
  return { source, indices: out };
}

/** Subset positions (not source indices) of each class, in subset order. @internal */
function positionsByClass(subset: Subset): Int32Array[] {
  const { indices, source } = subset;
  const numClasses = source.classNames.length;
  const counts = new Int32Array(numClasses);
  for (let k = 0; k < indices.length; k++) counts[source.labels[indices[k]]]++;
  const out = Array.from({ length: numClasses }, (_, c) => new Int32Array(counts[c]));
  const fill = new Int32Array(numClasses);
  for (let k = 0; k < indices.length; k++) {
    const c = source.labels[indices[k]];
    out[c][fill[c]++] = k;
  }
  return out;
}

/**
 * A seeded uniform choice of `min(k, items.length)` distinct items, returned sorted ascending
 * (partial Fisher-Yates on a copy). @internal
 */
export function chooseK(items: Int32Array, k: number, rng: Rng): Int32Array {
  const a = Int32Array.from(items);
  const m = Math.min(k, a.length);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(a.length - i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a.subarray(0, m).sort();
}
