/**
 * Fine-tuning (FT) unlearner for unlearnjs: after training, continue with cross-entropy on
 * the retain set D_r only, so the model drifts away from what it memorised of the forget set
 * ("Model Sparsity Can Simplify Machine Unlearning", Jia, Liu et al., NeurIPS 2023).
 *
 * @remarks Importing this module registers nothing: call {@link registerFt} on a run
 * container (`createContainer({ use: [registerFt] })`) and run it with `runUnlearner(container, 'ft', ...)`.
 * @packageDocumentation
 */
export { registerFt, ftPlugin } from './register.js';
export { FtUnlearner, ftOptionsSchema, type FtOptions } from './ft-unlearner.js';
