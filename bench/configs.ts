/**
 * What the benchmark measures: the models, their FLOPs, and the rules that skip a
 * configuration before it runs (backends too slow to finish in time).
 */

/** Benchmark model ids. */
export type BenchModel = 'resnet18-w16' | 'resnet18-w64' | 'vit-192x6';
/** What one measurement runs. */
export type BenchMode = 'train' | 'infer' | 'per-sample-grad';

export const ALL_MODELS: readonly BenchModel[] = ['resnet18-w16', 'resnet18-w64', 'vit-192x6'];
export const ALL_MODES: readonly BenchMode[] = ['train', 'infer', 'per-sample-grad'];

/** Core model plugin and options for each benchmark model. */
export const MODEL_SPECS: Record<BenchModel, { arch: 'resnet18' | 'vit'; options: Record<string, number> }> = {
  'resnet18-w16': { arch: 'resnet18', options: { width: 16 } },
  'resnet18-w64': { arch: 'resnet18', options: { width: 64 } },
  'vit-192x6': { arch: 'vit', options: { dim: 192, depth: 6, heads: 3, mlpDim: 384 } },
};

/**
 * Forward FLOPs per 32×32 image (2 × multiply-adds of the convs / matrix products), from the
 * layer shapes: ResNet-18 w64 0.556 GMAC; w16 has 1/16 of the conv MACs of w64 (plus the
 * stem); the ViT 65 tokens × 6 blocks of 4·192² + 2·192·384 MACs plus attention.
 */
export const FORWARD_GFLOP: Record<BenchModel, number> = {
  'resnet18-w16': 0.07,
  'resnet18-w64': 1.11,
  'vit-192x6': 0.247,
};

/** The PyTorch peer's arguments for the same model. */
export const PEER_ARGS: Record<BenchModel, string[]> = {
  'resnet18-w16': ['--model', 'resnet18', '--width', '16'],
  'resnet18-w64': ['--model', 'resnet18', '--width', '64'],
  'vit-192x6': ['--model', 'vit'],
};

/**
 * Expected images/s of the pure-JavaScript cpu backend (tfjs 4.22, 2-core Zen 4; wasm-notes),
 * used to skip measurements that would take minutes each.
 */
const CPU_IMAGES_PER_SECOND: Record<BenchModel, Record<BenchMode, number>> = {
  'resnet18-w16': { train: 1.9, infer: 9.6, 'per-sample-grad': 1 },
  'resnet18-w64': { train: 0.22, infer: 0.8, 'per-sample-grad': 0.1 },
  'vit-192x6': { train: 0.57, infer: 3, 'per-sample-grad': 0.4 },
};

/**
 * Why a measurement on a slow backend is skipped, or undefined to run it.
 * @param model - benchmark model
 * @param backend - backend name
 * @param mode - what is measured
 * @param images - images the measurement processes in total (warm-up included)
 * @param limitSeconds - longest acceptable measurement
 */
export function slowSkip(model: BenchModel, backend: string, mode: BenchMode, images: number, limitSeconds: number): string | undefined {
  if (backend !== 'cpu') return undefined;
  if (model === 'resnet18-w64' && mode === 'train') {
    return 'tfjs cpu backend trains ResNet-18 w64 at ~0.2 img/s (~50x slower than wasm): skipped';
  }
  const seconds = images / CPU_IMAGES_PER_SECOND[model][mode];
  if (seconds > limitSeconds) {
    return `tfjs cpu backend would take ~${Math.round(seconds)} s for this measurement (~${CPU_IMAGES_PER_SECOND[model][mode]} img/s; limit ${limitSeconds} s): skipped`;
  }
  return undefined;
}
