import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { ModelFactory } from '../plugins/kinds.js';
import type { Rng } from '../random/rng.js';
import { type BatchNormActOptions, batchNorm } from './layers/batch-norm.js';
import { conv2d } from './layers/conv2d.js';
import { dense } from './layers/dense.js';
import { normalizeCifar } from './layers/normalize-cifar.js';
import type { ForwardContext, ModelDefinition, ParamSpec } from './model-definition.js';
import { Model } from './model.js';

/** Options of the CIFAR ResNet-18 (validated by {@link resnet18OptionsSchema}). */
export interface ResNet18Options {
  /** Channels of the stem and first stage; stages have w, 2w, 4w, 8w. @defaultValue 64 */
  width: number;
  /** Number of output classes. @defaultValue 10 */
  numClasses: number;
}

/** Zod schema of {@link ResNet18Options}: `width` an integer in 4..512, `numClasses` ≥ 2. */
export const resnet18OptionsSchema = z.object({
  width: z.number().int().min(4).max(512).default(64),
  numClasses: z.number().int().min(2).max(100_000).default(10),
});

const STAGES = 4;
const BLOCKS_PER_STAGE = 2;

type Buffer = { name: string; shape: number[]; init: 'zeros' | 'ones' };

function convSpec(prefix: string, k: number, cin: number, cout: number): ParamSpec {
  return { name: `${prefix}.kernel`, shape: [k, k, cin, cout], init: 'he-normal' };
}

function bnSpecs(prefix: string, c: number, params: ParamSpec[], buffers: Buffer[]): void {
  params.push({ name: `${prefix}.gamma`, shape: [c], init: 'ones' });
  params.push({ name: `${prefix}.beta`, shape: [c], init: 'zeros' });
  buffers.push({ name: `${prefix}.runningMean`, shape: [c], init: 'zeros' });
  buffers.push({ name: `${prefix}.runningVar`, shape: [c], init: 'ones' });
}

/** One BasicBlock's structure. */
interface BlockPlan {
  prefix: string;
  cin: number;
  cout: number;
  stride: number;
  shortcut: boolean;
}

function blockPlans(width: number): BlockPlan[] {
  const plans: BlockPlan[] = [];
  let cin = width;
  for (let s = 0; s < STAGES; s++) {
    const cout = width * 2 ** s;
    for (let b = 0; b < BLOCKS_PER_STAGE; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      plans.push({ prefix: `stage${s + 1}.block${b}`, cin, cout, stride, shortcut: stride !== 1 || cin !== cout });
      cin = cout;
    }
  }
  return plans;
}

/** A bias-free `same` conv through `ctx.linear`, so adapters can change how it is computed. */
function conv(x: tf.Tensor4D, kernel: string, stride: number, ctx: ForwardContext): tf.Tensor4D {
  return ctx.linear(kernel, x, (t, w, o) => conv2d(t as tf.Tensor4D, w, stride, o)) as tf.Tensor4D;
}

/** BatchNorm `prefix` of x, then the residual and ReLU of `act` (fused where the backend can). */
function bn(x: tf.Tensor4D, prefix: string, ctx: ForwardContext, act: BatchNormActOptions = {}): tf.Tensor4D {
  return batchNorm(
    x,
    ctx.w(`${prefix}.gamma`),
    ctx.w(`${prefix}.beta`),
    ctx.buffer(`${prefix}.runningMean`),
    ctx.buffer(`${prefix}.runningVar`),
    ctx.training,
    act,
  );
}

/**
 * The definition of a CIFAR ResNet-18 of a given width (plain data plus a pure forward).
 *
 * @param options - width and number of classes (already validated)
 * @returns the architecture definition for {@link Model}
 * @remarks
 * He et al. 2016, CIFAR variant as in the reference code: a 3×3 stride-1 stem conv, BatchNorm,
 * ReLU, no max-pool; four stages of two BasicBlocks (conv3×3–BN–ReLU–conv3×3–BN, plus the
 * shortcut, then ReLU) with widths w, 2w, 4w, 8w, stride 2 at the first block of stages 2–4 and
 * a 1×1 conv + BN projection shortcut where the shape changes; global average pool; a dense
 * classifier. Convs have no bias. Kernels are HWIO (`[kh, kw, in, out]`), the dense `[in, out]`.
 * Convs use He-normal (fan-in) init, the classifier PyTorch's default uniform
 * U(−1/√in, 1/√in). Every conv kernel is prunable; BatchNorm and the classifier are not.
 * At width 64 it has 11,173,962 parameters.
 */
export function resnet18Definition(options: ResNet18Options): ModelDefinition {
  const { width, numClasses } = options;
  const params: ParamSpec[] = [];
  const buffers: Buffer[] = [];
  const prunable: string[] = [];
  const addConv = (prefix: string, k: number, cin: number, cout: number) => {
    const spec = convSpec(prefix, k, cin, cout);
    params.push(spec);
    prunable.push(spec.name);
  };

  addConv('stem.conv', 3, 3, width);
  bnSpecs('stem.bn', width, params, buffers);
  const plans = blockPlans(width);
  for (const p of plans) {
    addConv(`${p.prefix}.conv1`, 3, p.cin, p.cout);
    bnSpecs(`${p.prefix}.bn1`, p.cout, params, buffers);
    addConv(`${p.prefix}.conv2`, 3, p.cout, p.cout);
    bnSpecs(`${p.prefix}.bn2`, p.cout, params, buffers);
    if (p.shortcut) {
      addConv(`${p.prefix}.shortcut.conv`, 1, p.cin, p.cout);
      bnSpecs(`${p.prefix}.shortcut.bn`, p.cout, params, buffers);
    }
  }
  const feat = width * 2 ** (STAGES - 1);
  params.push({ name: 'fc.kernel', shape: [feat, numClasses], init: 'kaiming-uniform' });
  // PyTorch's Linear bias bound is 1/sqrt(fan_in of the weight), not of the bias itself.
  params.push({ name: 'fc.bias', shape: [numClasses], init: 'kaiming-uniform', fanIn: feat });

  const forward = (x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D => {
    let h = normalizeCifar(x);
    h = bn(conv(h, 'stem.conv.kernel', 1, ctx), 'stem.bn', ctx, { relu: true });
    for (const p of plans) {
      const y = bn(conv(h, `${p.prefix}.conv1.kernel`, p.stride, ctx), `${p.prefix}.bn1`, ctx, { relu: true });
      const z = conv(y, `${p.prefix}.conv2.kernel`, 1, ctx);
      const shortcut = p.shortcut ? bn(conv(h, `${p.prefix}.shortcut.conv.kernel`, p.stride, ctx), `${p.prefix}.shortcut.bn`, ctx) : h;
      // relu(bn2(z) + shortcut): one fused op where the backend has it.
      h = bn(z, `${p.prefix}.bn2`, ctx, { residual: shortcut, relu: true });
    }
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    const logits = ctx.linear('fc.kernel', pooled, (t, w, o) => dense(t as tf.Tensor2D, w, undefined, o)) as tf.Tensor2D;
    return tf.add(logits, ctx.w('fc.bias'));
  };

  return {
    arch: 'resnet18',
    config: { width, numClasses },
    params,
    buffers,
    prunable,
    classifier: { kernel: 'fc.kernel', bias: 'fc.bias' },
    // Every conv kernel and the classifier kernel are applied through ctx.linear.
    linear: [...prunable, 'fc.kernel'],
    forward,
  };
}

/**
 * The `resnet18` model factory.
 *
 * @remarks See {@link resnet18Definition} for the architecture.
 */
export const resnet18Factory = {
  name: 'resnet18' as const,
  optionsSchema: resnet18OptionsSchema,
  /**
   * Build a freshly initialised ResNet-18.
   * @param options - validated options
   * @param rng - initialisation randomness
   * @returns a model the caller owns (dispose it)
   */
  build(options: ResNet18Options, rng: Rng): Model {
    return new Model(resnet18Definition(options), rng);
  },
} satisfies ModelFactory<ResNet18Options>;
