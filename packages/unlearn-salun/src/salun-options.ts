import { sgdUnlearnOptionFields } from '@unlearnjs/core';
import { z } from 'zod';

// Split so that `ratio` sits between `lr` and `batchSize`, in the order options are reported.
const { epochs, lr, ...sgdFields } = sgdUnlearnOptionFields({ epochs: 10, lr: 0.013 });

/**
 * Zod schema of {@link SalunOptions}: validates and fills in the defaults of SalUn's code for
 * CIFAR-10 (OPTML-Group/Unlearn-Saliency, `Classification/`).
 *
 * @remarks
 * The defaults are the repository's ResNet-18 / CIFAR-10 example, which forgets 10% of the
 * training data at random (`--num_indexes_to_replace 4500`):
 * `generate_mask.py ... --unlearn_epochs 1`, then
 * `main_random.py --unlearn RL --unlearn_epochs 10 --unlearn_lr 0.013 --mask_path mask/with_0.5.pt`
 * (Classification/README.md): 10 epochs, lr 0.013, the saliency mask that keeps 50% of the
 * weights. Batch 256, momentum 0.9 and weight decay 5e-4 are `arg_parser.py`'s defaults, which
 * both scripts use; augmentation is on because both build their loaders from the training
 * transform (random crop + flip).
 *
 * Class-wise forgetting (`--class_to_replace c`) runs the same scripts with the same defaults:
 * the repository publishes no separate class-wise command or values, so the defaults are the
 * same for both scenarios. `generate_mask.py` writes masks for ratios 0.1, 0.2, ..., 1.0
 * (`with_0.1.pt` ... `with_1.0.pt`); the paper tunes the ratio and the learning rate per
 * setting, so treat both as the first things to sweep.
 *
 * Unknown keys are rejected, so a misspelt option fails instead of being ignored.
 */
export const salunOptionsSchema = z.strictObject({
  // epochs: passes over D_f then D_r (default 10); lr: constant SGD learning rate (default 0.013).
  epochs,
  lr,
  /**
   * Share of the model's weights that are salient, i.e. that unlearning may change: the
   * ⌊N·ratio⌋ weights with the largest |∂(−CE on D_f)/∂θ| over all N trainable weights of the
   * model (one global ranking, not per layer), as `threshold_index = int(len(all_elements) * i)`
   * in SalUn's `generate_mask.py`. The others keep their values exactly. 1 is plain random-label
   * unlearning.
   * @defaultValue 0.5 (the README's `mask/with_0.5.pt`)
   */
  ratio: z.number().gt(0, 'ratio must be > 0 and <= 1').max(1, 'ratio must be > 0 and <= 1').default(0.5),
  ...sgdFields,
});

/** Validated options of the `salun` unlearner (see {@link salunOptionsSchema} for ranges and defaults). */
export type SalunOptions = z.output<typeof salunOptionsSchema>;
