import { UnlearnError } from '../errors/unlearn-error.js';
import type { Rng } from '../random/rng.js';
import type { ParamSpec } from './model-definition.js';

/**
 * Initial values of a parameter, drawn from `rng` as its `init` says.
 * @param spec - the parameter's shape and initialiser
 * @param rng - the randomness (same state, same values)
 * @returns the values, row-major
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for an unknown initialiser
 */
export function initValues(spec: ParamSpec, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const fanIn = spec.fanIn ?? (spec.shape.length > 1 ? size / spec.shape[spec.shape.length - 1] : size);
  const [kind, arg] = spec.init.split(':');
  switch (kind) {
    case 'zeros':
      return new Float32Array(size);
    case 'ones':
      return new Float32Array(size).fill(1);
    case 'he-normal':
      return rng.normalArray(size, 0, Math.sqrt(2 / fanIn));
    case 'glorot-uniform': {
      const fanOut = spec.shape[spec.shape.length - 1] * (spec.shape.length === 4 ? spec.shape[0] * spec.shape[1] : 1);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return rng.uniformArray(size, -limit, limit);
    }
    case 'kaiming-uniform': {
      // PyTorch's default for Linear/Conv weights and biases: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
      const bound = 1 / Math.sqrt(fanIn);
      return rng.uniformArray(size, -bound, bound);
    }
    case 'normal':
      return rng.normalArray(size, 0, Number(arg));
    case 'trunc-normal': {
      const std = Number(arg);
      const out = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        let v = rng.normal();
        while (Math.abs(v) > 2) v = rng.normal();
        out[i] = v * std;
      }
      return out;
    }
    default:
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Unknown initialiser "${spec.init}" for ${spec.name}.`, {
        details: { param: spec.name, init: spec.init },
      });
  }
}
