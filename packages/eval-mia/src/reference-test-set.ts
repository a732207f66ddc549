import type { EvalData, Subset } from '@unlearnjs/core';

/** The test set the reference measures TA on and draws MIA non-members from, and its name. */
export interface ReferenceTestSet {
  /** The images. */
  subset: Subset;
  /** `'test'` (all classes) or `'test-without-class-<c>'`. */
  name: string;
  /** For people: e.g. "the test set without class 0 (9,000 images)". */
  description: string;
}

/**
 * The one rule for which test images stand for "held-out data" in a forgetting scenario: TA is
 * measured on them and the `svc-mia` attack takes its shadow non-members from them.
 *
 * @remarks
 * The reference (OPTML-Group/Unlearn-Sparse, `cifar10_dataloaders`) removes the forgotten class
 * from the test loader when the whole class is forgotten, and keeps every class otherwise. The
 * caller states which by passing `testRetainClasses` (`makeSplits` sets it to the test set
 * without class c exactly when every train-split image of class c is forgotten, and to the
 * whole test set otherwise). Without it, class-wise forgetting (`classToForget ≥ 0`) drops the
 * class, as the reference's default whole-class scenario does.
 *
 * @param data - the evaluator's data
 * @returns the subset (a view of `data.test`'s images; `data.test` itself when nothing is dropped)
 */
export function referenceTestSet(data: EvalData): ReferenceTestSet {
  const { test, classToForget } = data;
  let subset = test;
  if (classToForget >= 0) {
    if (data.testRetainClasses) subset = data.testRetainClasses;
    else subset = { source: test.source, indices: test.indices.filter((i) => test.source.labels[i] !== classToForget) };
  }
  const n = subset.indices.length.toLocaleString('en-US');
  const dropsClass = classToForget >= 0 && subset !== test && !subset.indices.some((i) => subset.source.labels[i] === classToForget);
  if (!dropsClass) return { subset, name: 'test', description: `the whole test set (${n} images)` };
  return { subset, name: `test-without-class-${classToForget}`, description: `the test set without class ${classToForget} (${n} images)` };
}
