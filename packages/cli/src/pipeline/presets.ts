import type { MethodSpec, PipelineConfig } from './pipeline-config.js';

/** Preset names. */
export type PresetName = 'ci' | 'quick' | 'paper';

const ALL_METHODS = (scale: { ft: number; ga: number; rl: number; l1: number; retrain: number; lr: number }): MethodSpec[] => [
  { method: 'retrain', options: { epochs: scale.retrain, lr: scale.lr } },
  { method: 'ft', options: { epochs: scale.ft, lr: 0.01 } },
  { method: 'ft', options: { epochs: scale.ft, lr: 0.01 }, lora: true },
  { method: 'ga', options: { epochs: scale.ga, lr: 1e-4 } },
  { method: 'rl', options: { epochs: scale.rl, lr: 0.01 } },
  { method: 'l1-sparse', options: { epochs: scale.l1, lr: 0.01, alpha: 5e-4 } },
  { method: 'fisher', options: { alpha: 1e-8 } },
  { method: 'influence', options: { alpha: 1, numSamples: 200 } },
];

/**
 * The example presets.
 *
 * - `ci`: tiny (ResNet-18 width 8, 600 train images), every stage and method, for CI.
 * - `quick`: the README's main command, sized for a 2-core CPU in about 15 minutes.
 * - `paper`: the reference recipe (182 epochs, 45k/5k split, 4,500 forgotten) for a GPU.
 *
 * @param name - preset
 * @param arch - `resnet18` or `vit`
 * @returns a full config (callers may override fields)
 */
export function presetConfig(name: PresetName, arch: 'resnet18' | 'vit'): PipelineConfig {
  const model =
    arch === 'resnet18'
      ? { width: name === 'paper' ? 64 : name === 'quick' ? 16 : 8 }
      : name === 'paper'
        ? {}
        : { dim: 64, depth: 2, heads: 2, mlpDim: 128 };
  if (name === 'paper') {
    return {
      preset: name,
      arch,
      model,
      data: { classToForget: -1, numToForget: 4500 },
      train: { epochs: 182, batchSize: 256, lr: 0.1, schedule: { type: 'multistep', milestones: [91, 136], gamma: 0.1 } },
      prune: { pruner: 'omp', options: { rate: 0.95, epochs: 0, retrainEpochs: 182, lr: 0.1, batchSize: 256 } },
      methods: ALL_METHODS({ ft: 10, ga: 5, rl: 10, l1: 10, retrain: 160, lr: 0.1 }).map((m) =>
        m.method === 'influence' ? { ...m, options: { alpha: 1, numSamples: 1000 } } : m,
      ),
      lora: { rank: 64, alpha: 16 },
      evaluation: { mia: true },
      backend: 'auto',
      seed: 1,
      outDir: `runs/${arch}-${name}`,
    };
  }
  const quick = name === 'quick';
  return {
    preset: name,
    arch,
    model,
    data: { trainLimit: quick ? 5000 : 600, testLimit: quick ? 1000 : 300, validationSize: quick ? 500 : 60, classToForget: 0 },
    train: { epochs: quick ? 6 : 2, batchSize: 64, lr: 0.05, schedule: { type: 'cosine' } },
    prune: { pruner: 'omp', options: { rate: 0.95, epochs: 0, retrainEpochs: quick ? 3 : 1, lr: 0.05, batchSize: 64 } },
    methods: ALL_METHODS({
      ft: quick ? 2 : 1,
      ga: quick ? 2 : 1,
      rl: quick ? 2 : 1,
      l1: quick ? 2 : 1,
      retrain: quick ? 5 : 1,
      lr: 0.05,
    }).map((m) => (m.method === 'influence' ? { ...m, options: { alpha: 1, numSamples: quick ? 200 : 30 } } : m)),
    lora: { rank: 4, alpha: 8 },
    evaluation: { mia: true, maxRetain: quick ? 1000 : 200 },
    backend: 'auto',
    seed: 1,
    outDir: `runs/${arch}-${name}`,
  };
}
