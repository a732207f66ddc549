/**
 * The fused kernels core asks a backend for by name (docs/decisions/0007). Where the active
 * backend registers a kernel, core runs it inside a `customGrad`; where it does not, core composes
 * the same result from element-wise ops. A backend (e.g. `@unlearnjs/backend-wasm`, a
 * third-party WebGPU or native one) registers these names with `tf.registerKernel`; each
 * constant's TSDoc is the kernel's contract (inputs, attributes, outputs), and its result must
 * match the composed ops.
 */

/**
 * Name of the optional fused training-mode BatchNorm kernel that {@link batchNorm} runs where the
 * active backend registers it (with {@link FUSED_BATCH_NORM_GRAD_KERNEL}); @unlearnjs/backend-wasm
 * does for 'wasm'. Inputs `{ x, gamma, beta, residual? }`, attributes `{ epsilon, relu }`,
 * outputs `[y, mean, variance]` with `y = act((x − mean)·gamma/√(variance + epsilon) + beta +
 * residual)`, mean and biased variance over every axis but the last. A third-party backend may
 * register the pair to speed BatchNorm up; the result must match the composed ops.
 */
export const FUSED_BATCH_NORM_KERNEL = 'UnlearnBatchNormTrain';

/**
 * Name of the backward kernel of {@link FUSED_BATCH_NORM_KERNEL}: inputs `{ dy, x, y, gamma, mean,
 * variance }`, attributes `{ epsilon, relu, residual }`, outputs `[dx, dGamma, dBeta]` and, when
 * `residual`, the residual's gradient (dy through the ReLU).
 */
export const FUSED_BATCH_NORM_GRAD_KERNEL = 'UnlearnBatchNormTrainGrad';

/**
 * Name of the optional eval-mode fused BatchNorm kernel: inputs `{ x, gamma, beta, mean,
 * variance, residual? }` (the running statistics), attributes `{ epsilon, relu }`, output
 * `act((x − mean)·gamma/√(variance + epsilon) + beta + residual)`. {@link batchNorm} runs it in
 * eval mode where the backend registers it (its gradient is composed here).
 */
export const FUSED_BATCH_NORM_INFER_KERNEL = 'UnlearnBatchNormInfer';

/**
 * Names of the optional fused LayerNorm kernels that {@link layerNorm} runs where the active
 * backend registers both: `UnlearnLayerNorm` (inputs `{ x, gamma, beta }`, attribute
 * `{ epsilon }`, outputs `[y, mean, invStd]` per row) and `UnlearnLayerNormGrad` (inputs
 * `{ dy, x, gamma, mean, invStd }`, outputs `[dx, dGamma, dBeta]`).
 */
export const FUSED_LAYER_NORM_KERNELS = { forward: 'UnlearnLayerNorm', gradient: 'UnlearnLayerNormGrad' } as const;

/**
 * Names of the optional fused GELU kernels that {@link gelu} runs where the active backend
 * registers both: `UnlearnGelu` (input `{ x }`, output GELU(x)) and `UnlearnGeluGrad` (inputs
 * `{ dy, x }`, output `dy·(0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π))`).
 */
export const FUSED_GELU_KERNELS = { forward: 'UnlearnGelu', gradient: 'UnlearnGeluGrad' } as const;

/**
 * Name of the optional fused SGD kernel that {@link SgdOptimizer} runs where the active backend
 * registers it (@unlearnjs/backend-wasm does for 'wasm'): inputs `{ w, dw, buf?, mask? }`,
 * attributes `{ lr, momentum, weightDecay, nesterov }`, outputs `[w']` plus `buf'` when `buf` is
 * given. It must compute exactly the optimiser's composed float32 ops, in their order.
 */
export const FUSED_SGD_KERNEL = 'UnlearnSgdStep';

/**
 * Names of the optional masked-conv kernels that {@link conv2d} runs where the active backend
 * registers both (@unlearnjs/backend-wasm does for 'wasm'), when the training loop asks for
 * gradients at a pruning mask's ones only (`ForwardOptions.maskedGradients`):
 * - `forward` (`UnlearnMaskedConv2D`): inputs `{ x, filter, mask }`, the attributes of `Conv2D`,
 *   output `Conv2D(x, filter)` (the mask is there for the gradient);
 * - `filterGradient` (`UnlearnConv2DMaskedFilterGrad`): inputs `{ x, dy, mask }`, the attributes
 *   of `Conv2DBackpropFilter` (with `filterShape`), output `Conv2DBackpropFilter(x, dy) ⊙ mask`.
 *   A backend may compute only the mask's ones (a sampled dW: 5% of the work at 95% sparsity);
 *   the values there must match the dense gradient's up to the order of float additions.
 *
 * Core registers the forward kernel's gradient: dx through `Conv2DBackpropInput`, d(filter)
 * through `filterGradient`, each computed only when the tape needs it.
 */
export const MASKED_CONV_KERNELS = { forward: 'UnlearnMaskedConv2D', filterGradient: 'UnlearnConv2DMaskedFilterGrad' } as const;
