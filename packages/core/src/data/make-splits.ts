import { UnlearnError } from '../errors/unlearn-error.js';
import { Rng } from '../random/rng.js';
import type { ImageSet } from './image-set.js';
import { type Subset, chooseK, fullSubset } from './subset.js';

/** The data sets of one unlearning run, all views of the loaded train and test images. */
export type DataSplits = {
  /** The train split: the (limited) train images minus the validation images. */
  readonly train: Subset;
  /** Held-out stratified validation images from the train file. */
  readonly validation: Subset;
  /** D_f: the images to forget, a subset of `train`. */
  readonly forget: Subset;
  /** D_r: `train` minus `forget`, in train order. */
  readonly retain: Subset;
  /** The whole test set. */
  readonly test: Subset;
  /**
   * The test set the reference measures TA on and draws MIA non-members from: without the
   * forgotten class when the whole class is forgotten, else the whole test set (random
   * forgetting, or only some images of the class).
   */
  readonly testRetainClasses: Subset;
  /** The forgotten class, or -1 for random forgetting. */
  readonly classToForget: number;
  /** The seed the splits were drawn with. */
  readonly seed: number;
};

/** Options of {@link makeSplits}. */
export type MakeSplitsOptions = {
  /** Seed of every random choice (validation images, forget images). */
  seed: number;
  /**
   * Number of validation images, drawn per class in proportion to the class counts.
   * @defaultValue 10% of the (limited) train images, rounded down: 5,000 = 500 per class
   */
  validationSize?: number;
  /** The class to forget (0..9), or -1 / undefined for random forgetting. */
  classToForget?: number;
  /**
   * Forget-set size. Class-wise: a seeded choice of this many images of the class.
   * @defaultValue class-wise: every train-split image of the class; random: 10% of the
   *   train split rounded (4,500 for the full data set)
   */
  numToForget?: number;
  /** Use only the first `trainLimit` train images (fast runs). @defaultValue all */
  trainLimit?: number;
};

function invalid(field: string, message: string, value: unknown, range: string): UnlearnError {
  return new UnlearnError('UNLEARN_INVALID_OPTIONS', `${field} ${message} (allowed: ${range}).`, {
    details: { field, value, allowed: range },
  });
}

function checkInt(field: string, value: number, lo: number, hi: number): void {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw invalid(field, `must be an integer in ${lo}..${hi}, got ${value}`, value, `${lo}..${hi}`);
  }
}

/** Per-class quotas summing to `total`, proportional to `counts` (largest remainder). */
function proportionalQuotas(counts: Int32Array, total: number, pool: number): Int32Array {
  const q = new Int32Array(counts.length);
  const rem: number[] = [];
  let given = 0;
  for (let c = 0; c < counts.length; c++) {
    const num = total * counts[c];
    q[c] = Math.floor(num / pool);
    rem.push(num - q[c] * pool);
    given += q[c];
  }
  const order = Array.from(counts.keys()).sort((a, b) => rem[b] - rem[a] || a - b);
  for (let i = 0; given < total; i++, given++) q[order[i]]++;
  return q;
}

/**
 * Split CIFAR-10 into train / validation / forget / retain / test views, as the reference
 * code does.
 *
 * @param train - the loaded train images (50,000 for the full set)
 * @param test - the loaded test images
 * @param options - see {@link MakeSplitsOptions}
 * @returns the splits; index arrays are sorted ascending (source order)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming the field and the allowed range when
 *   an option is out of range (a class outside -1..9, more images to forget than the train
 *   split or the class holds, a validation set that leaves no train image, ...)
 * @remarks
 * 1. The pool is the first `trainLimit` train images. Validation takes `validationSize`
 *    images, stratified: each class gives its share of the pool (largest remainder rounding),
 *    so 5,000 of the full 50,000 is exactly 500 per class. The rest is the train split.
 * 2. Class-wise forgetting (`classToForget = c`): D_f = every train-split image of class c
 *    (4,500 for the full set), or a seeded choice of `numToForget` of them (the reference's
 *    `replace_class`). When the whole class is forgotten, `testRetainClasses` is the test set
 *    without class c (9 classes), as the reference's test loader; when only some of its images
 *    are, the class stays in the test set, as there.
 * 3. Random forgetting (`classToForget = -1`): D_f = `numToForget` images drawn uniformly
 *    from the train split.
 * 4. D_r = train split minus D_f.
 * Randomness comes from `new Rng(seed)` forked as `'validation'` and `'forget'`: the same
 * seed gives the same splits, and the validation choice does not depend on the forget options.
 * @example
 * ```ts
 * const splits = makeSplits(train, test, { seed: 1, classToForget: 0 });
 * subsetSize(splits.forget); // 4500
 * ```
 */
export function makeSplits(train: ImageSet, test: ImageSet, options: MakeSplitsOptions): DataSplits {
  const { seed } = options;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw invalid('seed', `must be an integer, got ${seed}`, seed, 'integers');
  }
  const numClasses = train.classNames.length;
  if (train.size < 1) throw invalid('train', 'must hold at least one image', train.size, '>= 1 image');

  const poolSize = options.trainLimit ?? train.size;
  checkInt('trainLimit', poolSize, 1, train.size);
  const validationSize = options.validationSize ?? Math.floor(poolSize / 10);
  checkInt('validationSize', validationSize, 0, poolSize - 1);
  const classToForget = options.classToForget ?? -1;
  checkInt('classToForget', classToForget, -1, numClasses - 1);

  const rng = new Rng(seed);
  const validationRng = rng.fork('validation');
  const forgetRng = rng.fork('forget');

  // 1. stratified validation
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < poolSize; i++) byClass[train.labels[i]].push(i);
  const counts = Int32Array.from(byClass, (a) => a.length);
  const quotas = proportionalQuotas(counts, validationSize, poolSize);
  const isValidation = new Uint8Array(poolSize);
  for (let c = 0; c < numClasses; c++) {
    for (const i of chooseK(Int32Array.from(byClass[c]), quotas[c], validationRng)) isValidation[i] = 1;
  }
  const validation = new Int32Array(validationSize);
  const trainIdx = new Int32Array(poolSize - validationSize);
  for (let i = 0, v = 0, t = 0; i < poolSize; i++) {
    if (isValidation[i]) validation[v++] = i;
    else trainIdx[t++] = i;
  }

  // 2./3. forget set
  let forget: Int32Array;
  if (classToForget >= 0) {
    const ofClass = trainIdx.filter((i) => train.labels[i] === classToForget);
    if (ofClass.length === 0) {
      throw invalid(
        'classToForget',
        `is ${classToForget} but the train split holds no image of that class`,
        classToForget,
        'a class present in the train split',
      );
    }
    if (options.numToForget === undefined) forget = ofClass;
    else {
      checkInt('numToForget', options.numToForget, 1, ofClass.length);
      forget = chooseK(ofClass, options.numToForget, forgetRng);
    }
  } else {
    const numToForget = options.numToForget ?? Math.max(1, Math.round(trainIdx.length / 10));
    checkInt('numToForget', numToForget, 1, trainIdx.length);
    forget = chooseK(trainIdx, numToForget, forgetRng);
  }

  // 4. retain = train minus forget (both sorted ascending: one merge pass)
  const retain = new Int32Array(trainIdx.length - forget.length);
  for (let t = 0, f = 0, r = 0; t < trainIdx.length; t++) {
    if (f < forget.length && forget[f] === trainIdx[t]) f++;
    else retain[r++] = trainIdx[t];
  }

  const testAll = fullSubset(test);
  const wholeClass = classToForget >= 0 && forget.length === trainIdx.filter((i) => train.labels[i] === classToForget).length;
  const testRetainClasses = wholeClass
    ? { source: test, indices: testAll.indices.filter((i) => test.labels[i] !== classToForget) }
    : testAll;

  return {
    train: { source: train, indices: trainIdx },
    validation: { source: train, indices: validation },
    forget: { source: train, indices: forget },
    retain: { source: train, indices: retain },
    test: testAll,
    testRetainClasses,
    classToForget,
    seed,
  };
}
