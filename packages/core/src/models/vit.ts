import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { ModelFactory } from '../plugins/kinds.js';
import type { Rng } from '../random/rng.js';
import { dense, matMul } from './layers/dense.js';
import { dropout } from './layers/dropout.js';
import { gelu } from './layers/gelu.js';
import { layerNorm } from './layers/layer-norm.js';
import { normalizeCifar } from './layers/normalize-cifar.js';
import type { ForwardContext, ModelDefinition, ParamSpec } from './model-definition.js';
import { Model } from './model.js';

/** The input side the ViT is built for (CIFAR images). */
export const VIT_IMAGE_SIZE = 32;

/** Options of the ViT for 32×32 images (validated by {@link vitOptionsSchema}). */
export interface VitOptions {
  /** Side of the square patches; must divide 32. @defaultValue 4 */
  patchSize: number;
  /** Token dimension; must be divisible by `heads`. @defaultValue 192 */
  dim: number;
  /** Number of transformer blocks. @defaultValue 6 */
  depth: number;
  /** Attention heads per block. @defaultValue 3 */
  heads: number;
  /** Hidden size of the MLP of each block. @defaultValue 384 */
  mlpDim: number;
  /** Number of output classes. @defaultValue 10 */
  numClasses: number;
  /** Dropout rate in training mode (after the position embedding, attention projection and MLP layers). @defaultValue 0 */
  dropout: number;
  /**
   * Which kernels of each block pruners may prune (the patch embedding and the head never are).
   * - `'output-mlp'`: the attention output projection (`attn.out`) and the two MLP layers
   *   (`mlp.fc1`, `mlp.fc2`), as the ViT + LoRA extension of the paper prunes them (its
   *   fork prunes the `dense` layers of a Hugging Face ViT block: `attention.output.dense`,
   *   `intermediate.dense`, `output.dense`; query/key/value are left dense).
   * - `'qkv-output-mlp'`: also the attention query/key/value kernels (every dense kernel of
   *   the block; the only set before this option existed).
   * @defaultValue 'output-mlp'
   */
  prunable: 'output-mlp' | 'qkv-output-mlp';
}

/**
 * Zod schema of {@link VitOptions}. Besides each field's range it checks that `dim` is
 * divisible by `heads` and that `patchSize` divides 32.
 */
export const vitOptionsSchema = z
  .object({
    patchSize: z.number().int().min(1).max(VIT_IMAGE_SIZE).default(4),
    dim: z.number().int().min(1).max(4096).default(192),
    depth: z.number().int().min(1).max(64).default(6),
    heads: z.number().int().min(1).max(64).default(3),
    mlpDim: z.number().int().min(1).max(16384).default(384),
    numClasses: z.number().int().min(2).max(100_000).default(10),
    dropout: z.number().min(0).lt(1).default(0),
    prunable: z.enum(['output-mlp', 'qkv-output-mlp'], "prunable must be 'output-mlp' or 'qkv-output-mlp'").default('output-mlp'),
  })
  .superRefine((o, ctx) => {
    if (o.dim % o.heads !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['dim'],
        message: `dim (${o.dim}) must be divisible by heads (${o.heads})`,
      });
    }
    if (VIT_IMAGE_SIZE % o.patchSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['patchSize'],
        message: `patchSize (${o.patchSize}) must divide the image size ${VIT_IMAGE_SIZE} (1, 2, 4, 8, 16 or 32)`,
      });
    }
  });

/**
 * Cut NHWC images into non-overlapping `p×p` patches, each flattened in (row, column, channel)
 * order, i.e. the order of an HWIO conv kernel `[p, p, c, ·]` flattened to `[p·p·c, ·]`.
 *
 * @param x - images `[n, h, w, c]` with `h` and `w` divisible by `p`
 * @param p - patch side
 * @returns patches `[n, (h/p)·(w/p), p·p·c]`, row-major over the patch grid; the caller disposes it
 * @remarks Uses one rank-4 transpose (rank-6 and rank-5 transposes are ~40× slower on wasm).
 */
export function patchify(x: tf.Tensor4D, p: number): tf.Tensor3D {
  const [n, h, w, c] = x.shape;
  const gh = h / p;
  const gw = w / p;
  // [n·gh, p, gw, p·c] → [n·gh, gw, p, p·c]: rows of one patch become contiguous.
  const rows = tf.reshape(x, [n * gh, p, gw, p * c]);
  return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [n, gh * gw, p * p * c]);
}

/** [b, s, h·dh] → [b·h, s, dh] (rank-4 transpose only). */
function splitHeads(x: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [b, s, d] = x.shape;
  const dh = d / heads;
  return tf.reshape(tf.transpose(tf.reshape(x, [b, s, heads, dh]), [0, 2, 1, 3]), [b * heads, s, dh]);
}

/** [b, s, h·dh] → [b·h, dh, s]: keys already transposed for q·kᵀ. */
function splitHeadsTransposed(x: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [b, s, d] = x.shape;
  const dh = d / heads;
  return tf.reshape(tf.transpose(tf.reshape(x, [b, s, heads, dh]), [0, 2, 3, 1]), [b * heads, dh, s]);
}

/** [b·h, s, dh] → [b, s, h·dh]. */
function mergeHeads(x: tf.Tensor3D, b: number, heads: number): tf.Tensor3D {
  const [, s, dh] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [b, heads, s, dh]), [0, 2, 1, 3]), [b, s, heads * dh]);
}

/**
 * The definition of a Vision Transformer for 32×32 images (plain data plus a pure forward).
 *
 * @param options - validated options
 * @returns the architecture definition for {@link Model}
 * @remarks
 * Dosovitskiy et al. 2021, pre-norm: patch embedding (a dense layer over flattened `p×p`
 * patches, equivalent to a stride-`p` conv), a class token, a learned position embedding; per
 * block `x += Proj(MHSA(LN(x)))` with separate query/key/value/out dense layers and
 * `x += FC2(GELU(FC1(LN(x))))` (exact erf GELU); a final LayerNorm and a dense head on the class
 * token. Init: truncated normal (std 0.02, cut at 2σ) for the class token, position embedding
 * and every block and head kernel, Glorot-uniform for the patch embedding, zeros for biases,
 * ones/zeros for LayerNorm. Prunable (`options.prunable`): by default the attention output
 * kernel and the two MLP kernels of every block, as in the extension of the paper; with
 * `'qkv-output-mlp'` also the query/key/value kernels; never the patch embedding or the head.
 * Attention is shaped to avoid rank-5 transposes and `tf.einsum` (missing or slow on
 * wasm).
 */
export function vitDefinition(options: VitOptions): ModelDefinition {
  const { patchSize: p, dim, depth, heads, mlpDim, numClasses } = options;
  const rate = options.dropout;
  const grid = VIT_IMAGE_SIZE / p;
  const tokens = grid * grid + 1;
  const patchDim = p * p * 3;
  const params: ParamSpec[] = [];
  const prunable: string[] = [];
  const linear = (prefix: string, din: number, dout: number, init: string, prune: boolean) => {
    params.push({ name: `${prefix}.kernel`, shape: [din, dout], init });
    params.push({ name: `${prefix}.bias`, shape: [dout], init: 'zeros' });
    if (prune) prunable.push(`${prefix}.kernel`);
  };
  const norm = (prefix: string) => {
    params.push({ name: `${prefix}.gamma`, shape: [dim], init: 'ones' });
    params.push({ name: `${prefix}.beta`, shape: [dim], init: 'zeros' });
  };

  linear('patchEmbed', patchDim, dim, 'glorot-uniform', false);
  params.push({ name: 'clsToken', shape: [1, 1, dim], init: 'trunc-normal:0.02' });
  params.push({ name: 'posEmbed', shape: [1, tokens, dim], init: 'trunc-normal:0.02' });
  for (let i = 0; i < depth; i++) {
    const b = `blocks.${i}`;
    norm(`${b}.norm1`);
    const pruneQkv = options.prunable === 'qkv-output-mlp';
    for (const n of ['query', 'key', 'value']) linear(`${b}.attn.${n}`, dim, dim, 'trunc-normal:0.02', pruneQkv);
    linear(`${b}.attn.out`, dim, dim, 'trunc-normal:0.02', true);
    norm(`${b}.norm2`);
    linear(`${b}.mlp.fc1`, dim, mlpDim, 'trunc-normal:0.02', true);
    linear(`${b}.mlp.fc2`, mlpDim, dim, 'trunc-normal:0.02', true);
  }
  norm('norm');
  linear('head', dim, numClasses, 'trunc-normal:0.02', false);

  const scale = 1 / Math.sqrt(dim / heads);

  const forward = (x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D => {
    const [n, h, w, c] = x.shape;
    if (h !== VIT_IMAGE_SIZE || w !== VIT_IMAGE_SIZE || c !== 3) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `The ViT takes ${VIT_IMAGE_SIZE}×${VIT_IMAGE_SIZE}×3 images, got [${x.shape}]; resize the input or use another architecture.`,
        { details: { shape: x.shape } },
      );
    }
    // Dense layers (kernel through ctx.linear, so adapters can change how they are computed).
    const lin = <T extends tf.Tensor2D | tf.Tensor3D>(input: T, prefix: string): T =>
      tf.add(
        ctx.linear(`${prefix}.kernel`, input, (t, w, o) => dense(t as T, w, undefined, o)),
        ctx.w(`${prefix}.bias`),
      ) as T;
    const drop = <T extends tf.Tensor>(t: T): T => (ctx.training && rate > 0 ? dropout(t, rate, ctx.rng) : t);
    const patches = patchify(normalizeCifar(x), p);
    const embedded = lin(patches, 'patchEmbed');
    const cls = tf.broadcastTo(ctx.w('clsToken'), [n, 1, dim]);
    let t = drop(tf.add(tf.concat([cls, embedded], 1), ctx.w('posEmbed')) as tf.Tensor3D);
    for (let i = 0; i < depth; i++) {
      const b = `blocks.${i}`;
      const y = layerNorm(t, ctx.w(`${b}.norm1.gamma`), ctx.w(`${b}.norm1.beta`));
      // Scaling q (b·s·d values) is cheaper than scaling the scores (b·h·s·s values).
      const q = splitHeads(tf.mul(lin(y, `${b}.attn.query`), scale), heads);
      const kT = splitHeadsTransposed(lin(y, `${b}.attn.key`), heads);
      const v = splitHeads(lin(y, `${b}.attn.value`), heads);
      const attn = tf.softmax(matMul(q, kT));
      const merged = mergeHeads(matMul(attn, v), n, heads);
      t = tf.add(t, drop(lin(merged, `${b}.attn.out`)));
      const z = layerNorm(t, ctx.w(`${b}.norm2.gamma`), ctx.w(`${b}.norm2.beta`));
      const hidden = drop(gelu(lin(z, `${b}.mlp.fc1`)));
      t = tf.add(t, drop(lin(hidden, `${b}.mlp.fc2`)));
    }
    const final = layerNorm(t, ctx.w('norm.gamma'), ctx.w('norm.beta'));
    const clsOut = tf.reshape(tf.slice(final, [0, 0, 0], [n, 1, dim]), [n, dim]) as tf.Tensor2D;
    return lin(clsOut, 'head');
  };

  return {
    arch: 'vit',
    config: { ...options },
    params,
    buffers: [],
    prunable,
    classifier: { kernel: 'head.kernel', bias: 'head.bias' },
    linear: params.filter((s) => s.name.endsWith('.kernel')).map((s) => s.name),
    forward,
  };
}

/**
 * The `vit` model factory.
 *
 * @remarks See {@link vitDefinition} for the architecture.
 */
export const vitFactory = {
  name: 'vit' as const,
  optionsSchema: vitOptionsSchema,
  /**
   * Build a freshly initialised ViT.
   * @param options - validated options
   * @param rng - initialisation randomness
   * @returns a model the caller owns (dispose it)
   */
  build(options: VitOptions, rng: Rng): Model {
    return new Model(vitDefinition(options), rng);
  },
} satisfies ModelFactory<VitOptions>;
