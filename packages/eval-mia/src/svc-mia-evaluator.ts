import {
  type EvalContext,
  type EvalResult,
  type Evaluator,
  type Predictions,
  type Subset,
  type Token,
  UnlearnError,
  takeFirst,
  throwIfAborted,
} from '@unlearnjs/core';
import { z } from 'zod';
import { predictWith } from './accuracy-evaluator.js';
import { type FeatureMatrix, MIA_FEATURES, type MiaFeature, miaFeatureMatrix } from './mia-features.js';
import { referenceTestSet } from './reference-test-set.js';
import { type SvmClassifier, type SvmClassifierOptions, createSvmClassifier } from './svm-classifier.js';

/** Schema of the `svc-mia` evaluator's options. */
export const svcMiaOptionsSchema = z.strictObject({
  /** Attack features to evaluate; `confidence` gives the headline metrics. */
  features: z
    .array(z.enum(MIA_FEATURES as unknown as [MiaFeature, ...MiaFeature[]]))
    .min(1)
    .default([...MIA_FEATURES])
    .transform((f) => MIA_FEATURES.filter((x) => f.includes(x))),
  /** SVM penalty. */
  C: z.number().positive().default(3),
  /** Cap on the number of shadow members (and of shadow non-members); default |test|. */
  maxShadow: z.number().int().min(1).optional(),
  /** Images per forward pass. */
  batchSize: z.number().int().min(1).default(256),
  /** Also run the training-privacy attack (`MIA-privacy`). */
  privacy: z.boolean().default(true),
});

/**
 * Options of the `svc-mia` evaluator (validated and defaulted).
 *
 * - `features` — attack features. @defaultValue all of {@link MIA_FEATURES}
 * - `C` — SVM penalty. @defaultValue 3
 * - `maxShadow` — at most this many shadow members and as many non-members. @defaultValue |test|
 * - `batchSize` — images per forward pass. @defaultValue 256
 * - `privacy` — also compute `MIA-privacy`. @defaultValue true
 */
export type SvcMiaOptions = z.output<typeof svcMiaOptionsSchema>;

/** Builds the SVM the attack trains; {@link createSvmClassifier} (libsvm) by default. */
export type SvmClassifierFactory = (options: SvmClassifierOptions) => Promise<SvmClassifier>;

/**
 * Token of the SVM the `svc-mia` plugin trains: register a {@link SvmClassifierFactory} under it
 * on the run's container (`container.register(SVM_CLASSIFIER_FACTORY, { useValue: f })`) to
 * replace libsvm, e.g. with a faster or GPU implementation; without one, libsvm is used.
 */
export const SVM_CLASSIFIER_FACTORY = Symbol.for('@unlearnjs/eval-mia:SVM_CLASSIFIER_FACTORY') as Token<SvmClassifierFactory>;

function rowsOf(m: FeatureMatrix, from: number, to: number): FeatureMatrix {
  return { data: m.data.subarray(from * m.cols, to * m.cols), rows: to - from, cols: m.cols };
}

function stack(a: FeatureMatrix, b: FeatureMatrix): FeatureMatrix {
  const data = new Float64Array(a.data.length + b.data.length);
  data.set(a.data, 0);
  data.set(b.data, a.data.length);
  return { data, rows: a.rows + b.rows, cols: a.cols };
}

/** Share (percent) of `pred` equal to `label`. */
function shareOf(pred: Int32Array, label: number): number {
  let k = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === label) k++;
  return (100 * k) / pred.length;
}

function features(p: Predictions, f: MiaFeature): FeatureMatrix {
  return miaFeatureMatrix(p.probs, p.labels, p.classes, f);
}

/**
 * The `svc-mia` evaluator: the SVM membership-inference attack of the sparsity-unlearning
 * paper's code (OPTML-Group/Unlearn-Sparse, `SVC_MIA`).
 *
 * @remarks
 * Shadow data: members = the first n images of D_r (label 1), non-members = the first n images
 * of the reference's test set (label 0): the whole test set, or under whole-class forgetting
 * the test set without the forgotten class, as the reference's test loader
 * ({@link referenceTestSet}); n = min(|that set|, |D_r|, `maxShadow`). `details.nonMembers`
 * names the set used. For each feature an RBF C-SVC
 * (C = 3, gamma = 1/number of feature columns, i.e. scikit-learn's `gamma='auto'`) is trained on
 * the shadow data.
 *
 * - **MIA-efficacy** = share of D_f the attack predicts non-member, in percent (higher: the
 *   forget set looks less like training data). `MIA-efficacy` is the `confidence` feature's,
 *   `MIA-efficacy:<feature>` each feature's.
 * - **MIA-privacy** = accuracy of an attack trained on the first half of the shadow members and
 *   non-members and tested on the other halves: the mean of the member recall and the
 *   non-member recall, in percent (50 = no leak). `MIA-privacy` (confidence) and
 *   `MIA-privacy:<feature>`.
 *
 * Headline metrics are present only when `confidence` is among `features`.
 */
export class SvcMiaEvaluator implements Evaluator<SvcMiaOptions> {
  readonly name = 'svc-mia';
  readonly optionsSchema = svcMiaOptionsSchema;

  /**
   * @param createClassifier - the SVM to use; libsvm (libsvm-js) by default
   */
  constructor(private readonly createClassifier: SvmClassifierFactory = createSvmClassifier) {}

  /**
   * Run the attack.
   * @param ctx - model (not changed), data, options, services
   * @returns `MIA-efficacy`, `MIA-efficacy:<feature>`, `MIA-privacy`, `MIA-privacy:<feature>` (percent)
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the forget, retain or test set is empty;
   *   `UNLEARN_ABORTED` when the run's signal fires; `UNLEARN_BACKEND_UNAVAILABLE` when libsvm cannot load
   */
  async evaluate(ctx: EvalContext<SvcMiaOptions>): Promise<EvalResult> {
    const { model, data, options, services } = ctx;
    for (const [name, s] of [
      ['forget', data.forget],
      ['retain', data.retain],
      ['test', data.test],
    ] as const) {
      if (s.indices.length === 0) {
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          `The svc-mia evaluator got an empty ${name} set; pass data with at least one ${name} image.`,
          {
            details: { evaluator: this.name, set: name },
          },
        );
      }
    }
    // Non-members are held-out images the model never trained on: under whole-class forgetting
    // the reference's test loader has no image of the forgotten class, and neither do they.
    const heldOut = referenceTestSet(data);
    if (heldOut.subset.indices.length === 0) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `The svc-mia evaluator got no shadow non-member: ${heldOut.description}; pass test images of other classes.`,
        { details: { evaluator: this.name, set: heldOut.name } },
      );
    }
    const n = Math.min(heldOut.subset.indices.length, data.retain.indices.length, options.maxShadow ?? Number.POSITIVE_INFINITY);
    const predict = (s: Subset, label: string) => predictWith(model, s, options.batchSize, services, `svc-mia: ${label}`);
    const members = predict(takeFirst(data.retain, n), 'shadow members');
    const nonMembers = predict(takeFirst(heldOut.subset, n), 'shadow non-members');
    const forget = predict(data.forget, 'forget');

    const half = Math.floor(n / 2);
    const doPrivacy = options.privacy && half >= 1;
    const metrics: Record<string, number> = {};
    const gamma: Record<string, number> = {};
    const supportVectors: Record<string, number> = {};
    const fits = options.features.length * (doPrivacy ? 2 : 1);
    const task = services.progress.start('svc-mia: SVM fits', fits, 'fit');

    const fit = async (
      x: FeatureMatrix,
      y: Uint8Array,
      evalSets: FeatureMatrix[],
    ): Promise<{ preds: Int32Array[]; svm: { gamma: number; nSv: number } }> => {
      throwIfAborted(services.signal);
      const svm = await this.createClassifier({ C: options.C });
      try {
        svm.train(x, y);
        const preds = evalSets.map((s) => svm.predict(s));
        task.tick(1);
        return { preds, svm: { gamma: svm.gamma ?? 1 / x.cols, nSv: svm.numSupportVectors } };
      } finally {
        svm.dispose();
      }
    };
    const labels = (nm: number, nn: number) => {
      const y = new Uint8Array(nm + nn);
      y.fill(1, 0, nm);
      return y;
    };

    for (const f of options.features) {
      const fm = features(members, f);
      const fn = features(nonMembers, f);
      const ff = features(forget, f);
      const eff = await fit(stack(fm, fn), labels(fm.rows, fn.rows), [ff]);
      metrics[`MIA-efficacy:${f}`] = shareOf(eff.preds[0], 0);
      gamma[f] = eff.svm.gamma;
      supportVectors[f] = eff.svm.nSv;
      if (doPrivacy) {
        const train = stack(rowsOf(fm, 0, half), rowsOf(fn, 0, half));
        const priv = await fit(train, labels(half, half), [rowsOf(fm, half, fm.rows), rowsOf(fn, half, fn.rows)]);
        metrics[`MIA-privacy:${f}`] = (shareOf(priv.preds[0], 1) + shareOf(priv.preds[1], 0)) / 2;
      }
    }
    task.end();
    if (metrics['MIA-efficacy:confidence'] !== undefined) metrics['MIA-efficacy'] = metrics['MIA-efficacy:confidence'];
    if (metrics['MIA-privacy:confidence'] !== undefined) metrics['MIA-privacy'] = metrics['MIA-privacy:confidence'];

    return {
      evaluator: this.name,
      metrics,
      details: {
        features: options.features,
        nonMembers: heldOut.name,
        nonMembersDescription: heldOut.description,
        C: options.C,
        gamma,
        supportVectors,
        sizes: {
          shadowMembers: n,
          shadowNonMembers: n,
          forget: forget.n,
          privacyTrain: doPrivacy ? 2 * half : 0,
          privacyTest: doPrivacy ? 2 * (n - half) : 0,
        },
        ...(options.privacy && !doPrivacy ? { privacySkipped: 'fewer than 2 shadow members' } : {}),
      },
    };
  }
}
