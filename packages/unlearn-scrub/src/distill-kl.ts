import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '@unlearnjs/core';

/**
 * The temperature-scaled distillation divergence KL(teacher ‖ student) of a batch, as SCRUB
 * uses it: `T² / b · Σ_i Σ_c p_t(i,c) · (log p_t(i,c) − log p_s(i,c))`, with
 * `p = softmax(logits / T)` and `b` the batch size.
 *
 * @param studentLogits - the student's logits `[b, classes]` (gradients flow through them)
 * @param teacherLogits - the teacher's logits `[b, classes]` (treat them as constants: compute
 *   them outside the gradient tape)
 * @param temperature - the softening temperature T, > 0
 * @returns a scalar ≥ 0 (up to rounding); **the caller disposes it** (or calls this inside
 *   `tf.tidy` / a gradient tape)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when T is not a positive finite number or the
 *   two logit tensors differ in shape
 * @remarks `DistillKL` of SCRUB's code (`helper/KD.py` and `thirdparty/repdistiller`, from
 * RepDistiller: `F.kl_div(log_softmax(y_s/T), softmax(y_t/T), size_average=False) · T² / b`):
 * summed over classes and the batch, divided by the batch size ("batchmean"), and multiplied
 * by T² so that its gradient keeps the scale of a cross-entropy's as T grows (Hinton et al.,
 * 2015). The teacher's log-probabilities come from `logSoftmax`, so a class whose probability
 * underflows to 0 adds exactly 0, as PyTorch's `kl_div` does.
 *
 * @example
 * ```ts
 * const kl = tf.tidy(() => distillKl(student.forward(x), teacher.forward(x), 4).dataSync()[0]);
 * ```
 */
export function distillKl(studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D, temperature: number): tf.Scalar {
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `The distillation temperature must be a number > 0, got ${temperature}.`, {
      details: { field: 'temperature', value: temperature },
    });
  }
  if (!tf.util.arraysEqual(studentLogits.shape, teacherLogits.shape)) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Student logits [${studentLogits.shape}] and teacher logits [${teacherLogits.shape}] differ in shape; the teacher must be a copy of the student's architecture.`,
      { details: { student: studentLogits.shape, teacher: teacherLogits.shape } },
    );
  }
  return tf.tidy(() => {
    const logPs = tf.logSoftmax(tf.div(studentLogits, temperature));
    const logPt = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const summed = tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)));
    return tf.mul(summed, (temperature * temperature) / studentLogits.shape[0]) as tf.Scalar;
  });
}
