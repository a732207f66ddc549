import type { BackendRequest, Schedule } from '@unlearnjs/core';

/** One unlearning run of the pipeline. */
export interface MethodSpec {
  /** Unlearner id (`retrain`, `ft`, `ga`, `rl`, `l1-sparse`, `fisher`, `influence`, or a plugin's). */
  method: string;
  /** The unlearner's options. */
  options?: Record<string, unknown>;
  /** Train LoRA adapters instead of the full model (iterative methods only). */
  lora?: boolean;
  /** Run only on these model variants. @defaultValue every variant */
  variants?: ReadonlyArray<'dense' | 'sparse'>;
}

/**
 * Everything the train → prune → unlearn → evaluate → report pipeline needs.
 */
export interface PipelineConfig {
  /** Preset name, for the log and the report. */
  preset: string;
  /** Model plugin id and its options. */
  arch: 'resnet18' | 'vit' | (string & {});
  model: Record<string, unknown>;
  data: {
    /** CIFAR-10 folder. @defaultValue CIFAR10_DIR or ../shared/data/cifar10 */
    dir?: string;
    /** Download the official archive when the folder is missing. */
    download?: boolean;
    /** Use the first N train records (all 50,000 when absent). */
    trainLimit?: number;
    /** Use the first N test records. */
    testLimit?: number;
    /** Validation share taken out of train (see makeSplits). */
    validationSize?: number;
    /** Class-wise forgetting of this class, or -1 for random forgetting. */
    classToForget: number;
    /** Random forgetting: how many. */
    numToForget?: number;
  };
  /**
   * Dense training: core's `train` options (its defaults where absent: momentum 0.9, weight
   * decay 5e-4, no Nesterov, no label smoothing, augmentation on).
   */
  train: {
    epochs: number;
    batchSize: number;
    lr: number;
    schedule?: Schedule;
    warmupEpochs?: number;
    momentum?: number;
    nesterov?: boolean;
    weightDecay?: number;
    labelSmoothing?: number;
  };
  /** Pruning: a pruner id and its options (e.g. omp at rate 0.95). Absent: dense only. */
  prune?: {
    pruner: string;
    options: Record<string, unknown>;
    /**
     * The pruner trains the dense model itself as its round 0 (the reference's OMP: train,
     * prune, rewind to an early epoch, retrain), and that round-0 model is the dense rows'
     * model; `train` is then not run. Otherwise the pruner gets the trained dense model.
     * @defaultValue false
     */
    trainsDense?: boolean;
  };
  /** Unlearning runs. */
  methods: MethodSpec[];
  /** LoRA options used by methods with `lora: true`. */
  lora?: Record<string, unknown>;
  /** Evaluation options. */
  evaluation: { maxRetain?: number; mia: boolean; batchSize?: number };
  /** Backend request. */
  backend: BackendRequest;
  /**
   * wasm backend threads of the main process, which trains, prunes and (with `jobs` 1) runs the
   * rows. Row worker processes always run 1 thread, and when the main process runs more than 1
   * with `jobs` > 1 it leaves every row to workers, so that threads and processes do not compete
   * for the same cores. @defaultValue 1 (tfjs's default in Node)
   */
  wasmThreads?: number;
  seed: number;
  /**
   * Processes that share the unlearning rows: a number, or `auto` (one per core, at most 2, on
   * wasm/cpu; 1 on GPU backends). @defaultValue 'auto'
   */
  jobs?: number | 'auto';
  /** Output folder (checkpoints, rows, report). */
  outDir: string;
  /** Third-party plugin packages to load (`--plugin`). */
  plugins?: string[];
  quiet?: boolean;
}
