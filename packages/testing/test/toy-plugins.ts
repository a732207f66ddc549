// Small but honest plugins of each kind, written against the public API only, that the
// contract suites are run on (tests of the suites themselves).
import * as tf from '@tensorflow/tfjs-core';
import {
  API_VERSION,
  type Adapter,
  type AttachedAdapter,
  type DependencyContainer,
  type Evaluator,
  type Model,
  type Plugin,
  type Pruner,
  type SparsityReport,
  evaluateAccuracy,
  registerPlugin,
} from '@unlearnjs/core';
import { z } from 'zod';

export function sparsityOf(model: Model): SparsityReport {
  const layers = model.prunable.map((name) => {
    const size = (model.params.get(name) as tf.Variable).size;
    const mask = model.masks.get(name);
    const pruned = mask ? mask.dataSync().filter((v) => v === 0).length : 0;
    return { name, size, pruned, sparsity: pruned / size };
  });
  const total = layers.reduce((a, l) => a + l.size, 0);
  const pruned = layers.reduce((a, l) => a + l.pruned, 0);
  return { layers, total, pruned, global: pruned / total };
}

const magnitudeSchema = z.object({ sparsity: z.number().min(0).max(1).default(0.5) });

/** Layer-wise magnitude pruning, on top of any existing mask. */
export const toyMagnitudePlugin: Plugin<'pruner'> = {
  kind: 'pruner',
  name: 'toy-magnitude',
  apiVersion: API_VERSION,
  create: (): Pruner<z.output<typeof magnitudeSchema>> => ({
    name: 'toy-magnitude',
    optionsSchema: magnitudeSchema,
    async prune({ model, options }) {
      const t0 = performance.now();
      const masks = new Map<string, tf.Tensor>();
      for (const name of model.prunable) {
        const w = model.params.get(name) as tf.Variable;
        const abs = Float32Array.from(w.dataSync(), Math.abs);
        const k = Math.floor(options.sparsity * abs.length);
        const threshold = k > 0 ? Float32Array.from(abs).sort()[k - 1] : -1;
        const old = model.masks.get(name)?.dataSync();
        const m = new Float32Array(abs.length);
        for (let i = 0; i < m.length; i++) m[i] = abs[i] > threshold && (!old || old[i] === 1) ? 1 : 0;
        masks.set(name, tf.tensor(m, w.shape));
      }
      model.setMasks(masks);
      tf.dispose([...masks.values()]);
      const sparsity = sparsityOf(model);
      const seconds = (performance.now() - t0) / 1000;
      return { pruner: 'toy-magnitude', rounds: [{ round: 0, sparsity, seconds }], sparsity, seconds };
    },
  }),
};

const deltaSchema = z.object({ scale: z.number().positive().max(10).default(1) });

/** Adds a masked, trainable full-rank delta to every prunable weight. */
export const toyDeltaPlugin: Plugin<'adapter'> = {
  kind: 'adapter',
  name: 'toy-delta',
  apiVersion: API_VERSION,
  create: (): Adapter<z.output<typeof deltaSchema>> => ({
    name: 'toy-delta',
    optionsSchema: deltaSchema,
    attach(model, options): AttachedAdapter {
      const names = [...model.prunable];
      const frozen = [...model.params.keys()];
      model.setFrozen(frozen, true);
      const parameterNames = names.map((n) => `delta.${n}`);
      const delta = (n: string) => model.extraParams.get(`delta.${n}`) as tf.Variable;
      const masked = (n: string) => {
        const d = tf.mul(delta(n), options.scale);
        const m = model.masks.get(n);
        return m ? tf.mul(d, m) : d;
      };
      for (const n of names) {
        const zeros = tf.zerosLike(model.params.get(n) as tf.Variable);
        model.addExtraParam(`delta.${n}`, tf.variable(zeros, true));
        zeros.dispose();
        model.setWeightTransform(n, (w) => tf.add(w, masked(n)));
      }
      const detach = () => {
        for (const n of names) {
          model.setWeightTransform(n, undefined);
          model.removeExtraParam(`delta.${n}`);
        }
        model.setFrozen(frozen, false);
      };
      return {
        parameterNames,
        trainableCount: parameterNames.reduce((a, n) => a + (model.extraParams.get(n) as tf.Variable).size, 0),
        merge() {
          for (const n of names) {
            const w = model.params.get(n) as tf.Variable;
            tf.tidy(() => w.assign(tf.add(w, masked(n))));
          }
          detach();
        },
        detach,
      };
    },
  }),
};

const accuracySchema = z.object({ batchSize: z.number().int().min(1).max(4096).default(64) });

/** UA / RA / TA as plain accuracies. */
export const toyAccuracyPlugin: Plugin<'evaluator'> = {
  kind: 'evaluator',
  name: 'toy-accuracy',
  apiVersion: API_VERSION,
  create: (): Evaluator<z.output<typeof accuracySchema>> => ({
    name: 'toy-accuracy',
    optionsSchema: accuracySchema,
    async evaluate({ model, data, options }) {
      const acc = (s: typeof data.test) => evaluateAccuracy(model, s, { batchSize: options.batchSize });
      return {
        evaluator: 'toy-accuracy',
        metrics: { UA: 100 - acc(data.forget), RA: acc(data.retain), TA: acc(data.testRetainClasses ?? data.test) },
      };
    },
  }),
};

export function registerToys(container: DependencyContainer): void {
  registerPlugin(container, toyMagnitudePlugin);
  registerPlugin(container, toyDeltaPlugin);
  registerPlugin(container, toyAccuracyPlugin);
}
