import { z } from 'zod';

/** A `/source/flags` string: the form in which `targets` takes a regular expression. */
const REGEXP_FORM = /^\/(.+)\/([dgimsuvy]*)$/;

function isValidPattern(pattern: string): boolean {
  const m = REGEXP_FORM.exec(pattern);
  if (!m) return true;
  try {
    new RegExp(m[1], m[2]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Zod schema of {@link LoraOptions}: validates and fills in the defaults of the extension
 * (rank 64, alpha 16, dropout 0.1, classifier trainable, Kaiming-uniform A).
 */
export const loraOptionsSchema = z.strictObject({
  /** Requested rank r; each target uses min(rank, fanIn, out). */
  rank: z.number().int().min(1).max(4096).default(64),
  /** Scale numerator α: the update is (α/r)·A·B. */
  alpha: z.number().positive().max(1e6).default(16),
  /** Probability of dropping a row of A during a differentiated (training) forward pass. */
  dropout: z.number().min(0).lt(1).default(0.1),
  /**
   * Weights to adapt, by name: globs where `*` matches any run of characters (dots included),
   * or regular expressions written `/source/flags`. Default: per architecture.
   */
  targets: z
    .array(
      z.string().min(1).refine(isValidPattern, { message: 'not a valid regular expression (write RegExp targets as "/source/flags")' }),
    )
    .min(1)
    .optional(),
  /** Keep the classifier (kernel and bias) fully trainable and never adapt it. */
  trainClassifier: z.boolean().default(true),
  /** Initialiser of A: `kaiming-uniform` U(±1/√fanIn) as in PEFT, or `gaussian` N(0, (1/r)²). B is always zero. */
  init: z.enum(['kaiming-uniform', 'gaussian']).default('kaiming-uniform'),
  /** How the update is computed: `factored` (op(x,W) + (α/r)·op(x,A)·B), `weight` (op(x, W + M ⊙ (α/r)·A·B)), or `auto`. */
  mode: z.enum(['auto', 'weight', 'factored']).default('auto'),
});

/**
 * Options of the `lora` adapter, after validation (every field filled in).
 *
 * @remarks Pass a `Partial<LoraOptions>` to `attachAdapter(container, 'lora', model, options)`
 * or {@link attachLora}; missing fields take these defaults.
 */
export interface LoraOptions {
  /**
   * Requested rank r of the update. Each target uses `min(rank, fanIn, out)`, the largest rank
   * its update can have. @defaultValue 64
   */
  rank: number;
  /** Scale numerator: ΔW = (α/r)·A·B, with r the target's (capped) rank. @defaultValue 16 */
  alpha: number;
  /**
   * LoRA dropout, as the probability of zeroing a row of A (scaling the kept rows by 1/(1−p))
   * in forward passes that are being differentiated (training); evaluation never drops.
   * @defaultValue 0.1
   */
  dropout: number;
  /**
   * Which weights to adapt: patterns over parameter names, globs (`*` = any characters,
   * dots included, matched against the whole name) or RegExp strings `/source/flags`
   * (matched anywhere). Only 2-D dense kernels `[in, out]` and 4-D conv kernels
   * `[kh, kw, in, out]` can be adapted. When omitted: see {@link defaultLoraTargets}.
   */
  targets?: string[];
  /**
   * Keep the classifier head (kernel and bias) fully trainable: it is neither frozen nor
   * adapted, even when a target pattern matches it. @defaultValue true
   */
  trainClassifier: boolean;
  /** Initialiser of A (B starts at zero, so the adapted model starts equal to the base). @defaultValue 'kaiming-uniform' */
  init: 'kaiming-uniform' | 'gaussian';
  /**
   * How an adapted layer is computed (the result is the same, to float rounding):
   * - `factored`: `op(x, W) + (α/r)·op(x, A)·B`, with `op` the layer's own conv (A reshaped to
   *   `[kh, kw, in, r]`, same stride and padding) or dense, and B applied as a 1×1 conv/dense.
   *   The backward pass never forms the full-size gradient of the kernel, so a step is cheaper.
   *   Needs targets without a pruning mask that the architecture computes through
   *   `ctx.linear` (core's `resnet18` and `vit` do).
   * - `weight`: `op(x, W + M ⊙ (α/r)·A·B)`: works for any architecture and keeps pruned
   *   weights at zero during training (M ⊙ ΔW), at the cost of the full-size kernel gradient.
   * - `auto`: `factored` for each target that allows it, `weight` for masked targets and for
   *   layers not computed through `ctx.linear`.
   * @defaultValue 'auto'
   */
  mode: 'auto' | 'weight' | 'factored';
}

/** Input form of {@link LoraOptions}: every field optional. */
export type LoraOptionsInput = z.input<typeof loraOptionsSchema>;

/**
 * The default targets of an architecture, as the ViT + LoRA extension chose them.
 *
 * @param arch - the model's architecture id (`resnet18`, `vit`, or any other)
 * @param classifierKernel - name of the model's classifier kernel
 * @param prunable - the model's prunable weight names (used for other architectures)
 * @param trainClassifier - whether the classifier stays fully trainable (then it is not a target)
 * @returns glob patterns over parameter names
 * @remarks
 * - `resnet18`: the two convs of every BasicBlock (`*.conv1.kernel`, `*.conv2.kernel`) and,
 *   when `trainClassifier` is false, `fc.kernel`. The stem and shortcut convs stay frozen
 *   (name them in `targets` to adapt them).
 * - `vit`: query, value, attention output and both MLP kernels of every block (the
 *   extension's "query/value/dense"; key is not adapted), and `head.kernel` when
 *   `trainClassifier` is false.
 * - any other architecture: every prunable weight, plus the classifier kernel when
 *   `trainClassifier` is false.
 */
export function defaultLoraTargets(
  arch: string,
  classifierKernel: string,
  prunable: readonly string[],
  trainClassifier: boolean,
): string[] {
  const head = trainClassifier ? [] : [classifierKernel];
  if (arch === 'resnet18') return ['*.conv1.kernel', '*.conv2.kernel', ...head];
  if (arch === 'vit') {
    return [
      'blocks.*.attn.query.kernel',
      'blocks.*.attn.value.kernel',
      'blocks.*.attn.out.kernel',
      'blocks.*.mlp.fc1.kernel',
      'blocks.*.mlp.fc2.kernel',
      ...head,
    ];
  }
  return [...prunable.filter((n) => n !== classifierKernel), ...head];
}

/**
 * Compile a target pattern to a predicate over parameter names.
 *
 * @param pattern - a glob (`*` = any characters, whole-name match) or `/source/flags`
 * @returns the predicate
 * @throws SyntaxError when a `/source/flags` pattern is not a valid RegExp (the options schema
 *   rejects those earlier with `UNLEARN_INVALID_OPTIONS`)
 */
export function compileTargetPattern(pattern: string): (name: string) => boolean {
  const m = REGEXP_FORM.exec(pattern);
  if (m) {
    // Without the g/y flags `test` keeps no lastIndex state between names.
    const re = new RegExp(m[1], m[2].replace(/[gy]/g, ''));
    return (name) => re.test(name);
  }
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return (name) => re.test(name);
}
