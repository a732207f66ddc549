import type { Adapter, Model, Rng } from '@unlearnjs/core';
import { type AttachedLora, attachLora } from './attach-lora.js';
import { type LoraOptions, loraOptionsSchema } from './lora-options.js';

/** The `lora` adapter: an {@link Adapter} whose `attach` returns an {@link AttachedLora}. */
export interface LoraAdapter extends Adapter<LoraOptions> {
  /** The plugin id. */
  readonly name: 'lora';
  /**
   * Attach LoRA to a model (see {@link attachLora}).
   * @param model - the model, with its checkpoint and masks already loaded
   * @param options - validated options
   * @param rng - initialisation and dropout randomness
   * @returns the attached adapter
   */
  attach(model: Model, options: LoraOptions, rng: Rng): AttachedLora;
}

/**
 * The `lora` adapter instance: validates options with {@link loraOptionsSchema} and attaches
 * with {@link attachLora}.
 */
export const loraAdapter: LoraAdapter = {
  name: 'lora',
  optionsSchema: loraOptionsSchema,
  attach: (model, options, rng) => attachLora(model, options, rng),
};
