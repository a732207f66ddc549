import * as tf from '@tensorflow/tfjs-core';
import {
  type ForwardContext,
  type LinearOp,
  Model,
  type ModelDefinition,
  type ModelFactory,
  type ResNet18Options,
  type Rng,
  resnet18Definition,
  resnet18OptionsSchema,
} from '@unlearnjs/core';

/** Architecture id of {@link torchResNet18Definition}. */
export const TORCH_RESNET18_ARCH = 'torch-resnet18';

/** The 3×3 stride-2 convs: the only layers whose padding differs between tfjs `same` and PyTorch. */
const STRIDE_TWO_3X3 = new Set(['stage2.block0.conv1.kernel', 'stage3.block0.conv1.kernel', 'stage4.block0.conv1.kernel']);

/** A 3×3 stride-2 conv padded one pixel on every side, as PyTorch's `Conv2d(padding=1)`. */
const torchPaddedConv: LinearOp = (x, w) =>
  tf.conv2d(
    tf.pad(x as tf.Tensor4D, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]),
    w as tf.Tensor4D,
    2,
    'valid',
  );

/**
 * The reference's CIFAR ResNet-18 exactly as PyTorch computes it: core's `resnet18` with
 * PyTorch's padding at the three 3×3 stride-2 convs.
 *
 * @param options - width (the reference's `inplanes`, 64 there) and number of classes, validated
 * @returns the definition, with arch `torch-resnet18` and core's parameter names
 * @remarks
 * Core's `resnet18` uses tfjs `same` padding. For a 3×3 conv at stride 2 on an even-sized input,
 * `same` pads nothing before and one row/column after, PyTorch's `padding=1` one on each side:
 * same output shape, a sampling grid shifted by one pixel. Weights trained in PyTorch therefore
 * give other logits in core's `resnet18`. Here those three convs pad symmetrically and convolve
 * `valid`; every other layer (3×3 stride 1, 1×1 stride 2 shortcuts, BatchNorm with ε 1e-5 and
 * momentum 0.1, the unbiased running variance, normalisation inside the model, global average
 * pool) already matches. The convs still go through `ctx.linear`, so adapters (LoRA) and masks
 * work as on `resnet18`, and a checkpoint records the arch, so it reloads with the same padding.
 */
export function torchResNet18Definition(options: ResNet18Options): ModelDefinition {
  const base = resnet18Definition(options);
  return {
    ...base,
    arch: TORCH_RESNET18_ARCH,
    forward: (x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D =>
      base.forward(x, {
        w: ctx.w,
        buffer: ctx.buffer,
        training: ctx.training,
        rng: ctx.rng,
        linear: (name, input, op) => ctx.linear(name, input, STRIDE_TWO_3X3.has(name) ? torchPaddedConv : op),
      }),
  };
}

/**
 * The `torch-resnet18` model factory (options as core's `resnet18`: `width`, `numClasses`).
 *
 * @remarks See {@link torchResNet18Definition}.
 */
export const torchResNet18Factory = {
  name: TORCH_RESNET18_ARCH as typeof TORCH_RESNET18_ARCH,
  optionsSchema: resnet18OptionsSchema,
  /**
   * Build a freshly initialised model.
   * @param options - validated options
   * @param rng - initialisation randomness
   * @returns a model the caller owns (dispose it)
   */
  build(options: ResNet18Options, rng: Rng): Model {
    return new Model(torchResNet18Definition(options), rng);
  },
} satisfies ModelFactory<ResNet18Options>;
