import { UnlearnError } from '@unlearnjs/core';
import type libsvm from 'libsvm-js';
import type { LibsvmClass } from 'libsvm-js';
import type { FeatureMatrix } from './mia-features.js';

/** Options of {@link createSvmClassifier}: a C-SVC with an RBF kernel. */
export interface SvmClassifierOptions {
  /** Penalty of misclassified training points. @defaultValue 3 (the reference attack's `C`) */
  C?: number;
  /**
   * RBF width in `exp(−gamma·‖x − x'‖²)`.
   * @defaultValue `1 / cols` of the training matrix (scikit-learn's `gamma='auto'`)
   */
  gamma?: number;
  /** Stopping tolerance of the solver. @defaultValue 1e-3 (libsvm's and scikit-learn's default) */
  tolerance?: number;
  /** Kernel cache in MB (speed only). @defaultValue 100 */
  cacheSizeMb?: number;
}

/**
 * A trained-once binary or multi-class support vector classifier.
 *
 * @remarks Its memory lives in a WebAssembly heap the garbage collector does not see: call
 * {@link SvmClassifier.dispose} when done (training again frees the previous model).
 */
export interface SvmClassifier {
  /**
   * Fit the classifier.
   * @param x - training samples, one per row
   * @param y - integer class labels, one per row, at least two distinct values
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` on mismatched sizes, non-finite features or a single class
   */
  train(x: FeatureMatrix, y: ArrayLike<number>): void;
  /**
   * Predict the class of each row.
   * @param x - samples with as many columns as the training matrix
   * @returns one label per row
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` before {@link SvmClassifier.train} or on a column mismatch
   */
  predict(x: FeatureMatrix): Int32Array;
  /** Number of support vectors of the trained model (0 before training). */
  readonly numSupportVectors: number;
  /** The gamma used by the last training. */
  readonly gamma: number | undefined;
  /** Free the WebAssembly memory of the model. Safe to call twice. */
  dispose(): void;
}

let libsvmPromise: Promise<LibsvmClass> | undefined;

/**
 * Load libsvm-js once per process. Its emscripten glue tries `fetch` on a file path under Node,
 * fails, and falls back to reading the file, printing two harmless lines through a
 * `console.warn` it binds while the module evaluates; those two lines (and only those) are
 * filtered by the function bound then.
 */
function loadLibsvm(): Promise<LibsvmClass> {
  if (!libsvmPromise) {
    libsvmPromise = (async () => {
      const original = console.warn;
      const quiet = (...args: unknown[]) => {
        const first = typeof args[0] === 'string' ? args[0] : '';
        if (first.startsWith('wasm streaming compile failed') || first.startsWith('falling back to ArrayBuffer instantiation')) return;
        original.apply(console, args);
      };
      console.warn = quiet;
      try {
        // `require`, not `import()`: module.exports is a promise, and a module namespace that
        // forwards `then` to it (as vitest's interop does) breaks `await import()`.
        const { createRequire } = await import('node:module');
        const require = createRequire(import.meta.url);
        return await (require('libsvm-js') as typeof libsvm);
      } finally {
        if (console.warn === quiet) console.warn = original;
      }
    })().catch((cause: unknown) => {
      libsvmPromise = undefined;
      throw new UnlearnError(
        'UNLEARN_BACKEND_UNAVAILABLE',
        'Could not load libsvm-js (the SVM of the membership-inference attack; it needs Node.js with WebAssembly). Reinstall @unlearnjs/eval-mia, or pass your own SvmClassifier factory to createSvcMiaEvaluator.',
        {
          cause,
        },
      );
    });
  }
  return libsvmPromise;
}

function invalid(message: string, details: Record<string, unknown> = {}): UnlearnError {
  return new UnlearnError('UNLEARN_INVALID_OPTIONS', message, { details });
}

function checkMatrix(x: FeatureMatrix, what: string): void {
  if (x.data.length !== x.rows * x.cols || x.cols < 1) {
    throw invalid(`${what} has ${x.data.length} values for ${x.rows} rows × ${x.cols} columns.`, { rows: x.rows, cols: x.cols });
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) {
      throw invalid(`${what} holds a non-finite value at row ${Math.floor(i / x.cols)}; check the model's outputs for NaN.`, {
        row: Math.floor(i / x.cols),
      });
    }
  }
}

/**
 * Create a C-SVC with an RBF kernel, backed by libsvm (libsvm-js, the WebAssembly build of the
 * library scikit-learn's `SVC` wraps).
 *
 * @param options - C, gamma, tolerance, cache size
 * @returns an untrained classifier; {@link SvmClassifier.dispose} it when done
 * @throws UnlearnError `UNLEARN_BACKEND_UNAVAILABLE` when libsvm-js cannot be loaded;
 *   `UNLEARN_INVALID_OPTIONS` for C, gamma or tolerance that are not positive
 * @remarks
 * Predictions equal scikit-learn's `SVC(kernel='rbf', C, gamma).predict`: the training rows are
 * passed to libsvm grouped by ascending label (stable), which is the label order scikit-learn
 * uses, so the solver sees the same problem and decision values of the same sign.
 *
 * @example
 * ```ts
 * const svm = await createSvmClassifier({ C: 3 });
 * try {
 *   svm.train({ data: Float64Array.of(0, 0.1, 0.9, 1), rows: 4, cols: 1 }, [0, 0, 1, 1]);
 *   svm.predict({ data: Float64Array.of(0.05, 0.95), rows: 2, cols: 1 }); // Int32Array [0, 1]
 * } finally {
 *   svm.dispose();
 * }
 * ```
 */
export async function createSvmClassifier(options: SvmClassifierOptions = {}): Promise<SvmClassifier> {
  const C = options.C ?? 3;
  const tolerance = options.tolerance ?? 1e-3;
  const cacheSizeMb = options.cacheSizeMb ?? 100;
  for (const [name, v] of [
    ['C', C],
    ['tolerance', tolerance],
    ['cacheSizeMb', cacheSizeMb],
    ['gamma', options.gamma ?? 1],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw invalid(`SVM option ${name} must be a positive number, got ${v}.`, { [name]: v });
  }
  const SVM = await loadLibsvm();
  let model: InstanceType<LibsvmClass> | undefined;
  let cols = 0;
  let nSv = 0;
  let usedGamma: number | undefined;

  return {
    get numSupportVectors() {
      return nSv;
    },
    get gamma() {
      return usedGamma;
    },
    train(x, y) {
      checkMatrix(x, 'SVM training matrix');
      if (y.length !== x.rows) throw invalid(`SVM training has ${x.rows} rows but ${y.length} labels.`, { rows: x.rows, labels: y.length });
      const distinct = [...new Set(Array.from(y))].sort((a, b) => a - b);
      if (distinct.some((v) => !Number.isInteger(v))) throw invalid('SVM labels must be integers.', { labels: distinct });
      if (distinct.length < 2) {
        throw invalid(`SVM training needs at least two classes; got only label ${distinct[0]}.`, { labels: distinct });
      }
      // Stable grouping by ascending label: scikit-learn's label order (see @remarks).
      const order = Array.from({ length: x.rows }, (_, i) => i).sort((a, b) => y[a] - y[b] || a - b);
      const samples = order.map((i) => x.data.subarray(i * x.cols, (i + 1) * x.cols));
      const labels = order.map((i) => y[i]);
      model?.free();
      usedGamma = options.gamma ?? 1 / x.cols;
      model = new SVM({
        type: SVM.SVM_TYPES.C_SVC,
        kernel: SVM.KERNEL_TYPES.RBF,
        cost: C,
        gamma: usedGamma,
        tolerance,
        cacheSize: cacheSizeMb,
        shrinking: true,
        quiet: true,
      });
      model.train(samples, labels);
      cols = x.cols;
      nSv = model.getSVIndices().length;
    },
    predict(x) {
      if (!model) throw invalid('Train the SVM before predicting.');
      if (x.cols !== cols) throw invalid(`SVM was trained on ${cols} features but got ${x.cols}.`, { expected: cols, got: x.cols });
      checkMatrix(x, 'SVM input matrix');
      const out = new Int32Array(x.rows);
      for (let i = 0; i < x.rows; i++) out[i] = model.predictOne(x.data.subarray(i * cols, (i + 1) * cols));
      return out;
    },
    dispose() {
      model?.free();
      model = undefined;
      nSv = 0;
    },
  };
}
