import { type ParamVector, UnlearnError, disposeVector, throwIfAborted, vectorAxpyInPlace, vectorDots } from '@unlearnjs/core';

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
 * Computed as written above but with `o = c·g₁` and `k = v − s·g₁` kept as the two scalars c
 * and s (float64): per gradient, `a = v·g − s·(g₁·g)`, `b = c·(g₁·g)`, `s += c·a/(N + b)`,
 * `c ← c·N/(N + b)`, and k is formed once at the end. The same values up to float rounding,
 * at the cost of two dot products per gradient instead of two parameter-sized updates.
 *
 * Memory: v, g₁ and the current gradient (three parameter-sized vectors) plus one temporary
 * tensor.
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
  // o and k − v stay multiples of g₁ (see the remarks), so the recursion runs on two scalars:
  // o = c·g₁ and k = v − s·g₁. Each gradient then costs two dot products, not two
  // parameter-sized updates.
  let g1: ParamVector | undefined;
  let c = 1;
  let s = 0;
  let count = 0;
  try {
    for (const g of gradients) {
      try {
        throwIfAborted(options.signal);
        if (g1 === undefined) {
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
          g1 = g;
        } else {
          const [vg, g1g] = vectorDots([
            [v, g],
            [g1, g],
          ]);
          const a = vg - s * g1g; // k·g
          const b = c * g1g; // o·g
          const denom = N + b;
          s += (a / denom) * c;
          c *= N / denom;
          disposeVector(g);
        }
      } catch (err) {
        if (g !== g1) disposeVector(g);
        throw err;
      }
      count++;
      options.onStep?.(count);
    }
    if (g1 !== undefined && s !== 0) vectorAxpyInPlace(-s, g1, k);
    return { direction: k, count };
  } catch (err) {
    disposeVector(k);
    throw err;
  } finally {
    if (g1) disposeVector(g1);
  }
}
