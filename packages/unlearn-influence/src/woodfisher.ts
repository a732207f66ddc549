import * as tf from '@tensorflow/tfjs-core';
import { type ParamVector, UnlearnError, disposeVector, throwIfAborted, vectorDots } from '@unlearnjs/core';

/** Options of {@link woodFisherSolve}. */
export interface WoodFisherOptions {
  /** The damping N of the recursion (the reference uses N = 1000, about the number of samples). */
  damping: number;
  /** Checked before each gradient; an aborted signal throws `UNLEARN_ABORTED`. */
  signal?: AbortSignal;
  /** Called after each gradient has been used (and disposed), with the number used so far. */
  onStep?: (count: number) => void;
}

/** What {@link woodFisherSolve} returns. */
export interface WoodFisherResult {
  /** k, the estimate of H⁻¹v: the same Map as the `v` passed in, updated in place. */
  direction: ParamVector;
  /** Gradients consumed. */
  count: number;
}

/**
 * The reference code's streaming WoodFisher estimate of `H⁻¹v` (`woodfisher()` of `wfisher`),
 * reading one per-sample gradient at a time.
 *
 * @param v - the vector to precondition; **taken over**: its tensors are replaced step by step
 *   and the same Map is returned as `direction` (the caller disposes it then, with
 *   `disposeVector`, and must not use `v` separately)
 * @param gradients - per-sample gradients, same names and shapes as `v`; **each yielded vector
 *   is taken over and disposed** before the next one is requested, so a generator that builds
 *   them lazily keeps only one alive
 * @param options - damping N, abort signal, per-step callback
 * @returns k and the number of gradients used
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `damping` is not > 0 or a gradient names
 *   other parameters; `UNLEARN_ABORTED` on abort (every tensor it holds is disposed, `v` included)
 * @remarks
 * The recursion, exactly as the reference code: `o = g₁`, `k = v`; then for each next g,
 * with `a = k·g` and `b = o·g` (dot products over the whole parameter set),
 * `k ← k − a/(N + b) · o` and `o ← o − b/(N + b) · o = N/(N + b) · o`.
 *
 * What it computes. By Sherman–Morrison, the inverse of `F_t = I + (1/N) Σ_{s=2..t} g_s g_sᵀ`
 * satisfies `F_t⁻¹v = F_{t−1}⁻¹v − u (g_t·F_{t−1}⁻¹v)/(N + g_t·u)` with `u = F_{t−1}⁻¹g_t`.
 * The recursion has this form with `o` in place of `u`: `o` is always a multiple of g₁
 * (`o_t = c_t g₁`, `1/c_t = 1/c_{t−1} + (g₁·g_t)/N`), so `o = F_{t−1}⁻¹g_t` holds when every
 * gradient equals g₁, and then `k = N·(N·I + Σ_{t=2..n} g_t g_tᵀ)⁻¹ v` exactly (the first
 * gradient only initialises o). For distinct gradients it is not that inverse: `k − v` always
 * lies along g₁. This is the public code's behaviour and is kept as such.
 *
 * Memory: k, o and the current gradient (three parameter-sized vectors) plus one temporary
 * tensor; both updates replace tensors one at a time.
 */
export function woodFisherSolve(v: ParamVector, gradients: Iterable<ParamVector>, options: WoodFisherOptions): WoodFisherResult {
  const N = options.damping;
  if (!(N > 0) || !Number.isFinite(N)) {
    disposeVector(v);
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `The WoodFisher damping N must be a finite number > 0, got ${N}.`, {
      details: { field: 'damping', value: N },
    });
  }
  const k = v;
  let o: ParamVector | undefined;
  let count = 0;
  try {
    for (const g of gradients) {
      try {
        throwIfAborted(options.signal);
        if (o === undefined) {
          for (const name of k.keys()) {
            if (!g.has(name)) {
              throw new UnlearnError(
                'UNLEARN_INVALID_OPTIONS',
                `A per-sample gradient lacks "${name}"; build the gradients and v from the same model.`,
                {
                  details: { name },
                },
              );
            }
          }
          o = g;
        } else {
          const [a, b] = vectorDots([
            [k, g],
            [o, g],
          ]);
          const denom = N + b;
          const ko = a / denom;
          const oo = N / denom;
          for (const [name, kt] of k) {
            const next = tf.tidy(() => tf.sub(kt, tf.mul(o?.get(name) as tf.Tensor, ko)));
            kt.dispose();
            k.set(name, next);
          }
          for (const [name, ot] of o) {
            const next = tf.mul(ot, oo);
            ot.dispose();
            o.set(name, next);
          }
          disposeVector(g);
        }
      } catch (err) {
        if (g !== o) disposeVector(g);
        throw err;
      }
      count++;
      options.onStep?.(count);
    }
    return { direction: k, count };
  } catch (err) {
    disposeVector(k);
    throw err;
  } finally {
    if (o) disposeVector(o);
  }
}
