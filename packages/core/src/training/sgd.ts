import * as tf from '@tensorflow/tfjs-core';
import { FUSED_SGD_KERNEL } from '../backend/fused-kernels.js';
import { backendHasKernels } from '../backend/has-kernels.js';

/** Options of {@link SgdOptimizer}. */
export interface SgdOptions {
  momentum: number;
  weightDecay: number;
  /** Nesterov momentum. @defaultValue false */
  nesterov?: boolean;
}

/**
 * SGD with momentum and weight decay, with PyTorch's semantics, that keeps pruned weights at
 * exactly zero.
 *
 * @remarks
 * For each variable: g ← ∇ + λ·w; b ← μ·b + g; w ← w − lr·b (or Nesterov g + μ·b). Where a
 * mask m is given, g and w are multiplied by m, so a masked weight's update is 0 and its value
 * stays 0, bit for bit. Momentum buffers are variables owned by the optimiser ({@link dispose}).
 * Where the backend registers {@link FUSED_SGD_KERNEL}, each variable's update is that one kernel
 * instead of six to eight element-wise ops (the same float32 operations, the same result).
 */
export class SgdOptimizer {
  private readonly buffers = new Map<string, tf.Variable>();
  constructor(readonly options: SgdOptions) {}

  /**
   * Apply one update. Consumes nothing: the caller disposes `grads`.
   * @param vars - name → variable to update
   * @param grads - name → gradient (same keys as vars that have gradients)
   * @param lr - learning rate
   * @param masks - name → 0/1 mask
   */
  step(
    vars: ReadonlyMap<string, tf.Variable>,
    grads: Readonly<Record<string, tf.Tensor>>,
    lr: number,
    masks: ReadonlyMap<string, tf.Tensor>,
  ): void {
    const { momentum, weightDecay, nesterov } = this.options;
    const fused = backendHasKernels(FUSED_SGD_KERNEL);
    const attrs = { lr, momentum, weightDecay, nesterov: nesterov ?? false };
    tf.tidy(() => {
      for (const [name, v] of vars) {
        const g0 = grads[name];
        if (!g0) continue;
        const mask = masks.get(name);
        if (fused) {
          const buf = momentum !== 0 ? this.buffer(name, v) : undefined;
          const inputs: tf.NamedTensorMap = { w: v, dw: g0, ...(buf ? { buf } : {}), ...(mask ? { mask } : {}) };
          const [next, nb] = tf.engine().runKernel(FUSED_SGD_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
          if (buf) buf.assign(nb);
          v.assign(next);
          continue;
        }
        let g = weightDecay !== 0 ? tf.add(g0, tf.mul(v, weightDecay)) : g0;
        if (mask) g = tf.mul(g, mask);
        let update = g;
        if (momentum !== 0) {
          const buf = this.buffer(name, v);
          const nb = tf.add(tf.mul(buf, momentum), g);
          buf.assign(nb);
          update = nesterov ? tf.add(g, tf.mul(nb, momentum)) : nb;
        }
        let next = tf.sub(v, tf.mul(update, lr));
        if (mask) next = tf.mul(next, mask);
        v.assign(next);
      }
    });
  }

  /** The momentum buffer of `name`, created as zeros the first time (PyTorch's first step then sets it to g). */
  private buffer(name: string, v: tf.Variable): tf.Variable {
    let buf = this.buffers.get(name);
    if (!buf) {
      buf = tf.variable(tf.zerosLike(v), false);
      this.buffers.set(name, buf);
    }
    return buf;
  }

  /** Momentum buffers by variable name (for checkpoints); the optimiser keeps ownership. */
  state(): ReadonlyMap<string, tf.Variable> {
    return this.buffers;
  }

  /**
   * Restore momentum buffers from a checkpoint (copies the tensors).
   * @param state - name → buffer
   */
  setState(state: ReadonlyMap<string, tf.Tensor>): void {
    this.dispose();
    for (const [n, t] of state)
      this.buffers.set(
        n,
        tf.tidy(() => tf.variable(tf.clone(t), false)),
      );
  }

  /** Free the momentum buffers. */
  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
