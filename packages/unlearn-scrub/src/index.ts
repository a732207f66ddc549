/**
 * SCRUB unlearner for unlearnjs ("Towards Unbounded Machine Unlearning", Kurmanji et al.,
 * NeurIPS 2023; code meghdadk/SCRUB): a frozen copy of the original model is the teacher and
 * the model the student; max passes raise KL(teacher ‖ student) on the forget set D_f, min
 * passes lower γ·CE + α·KL on the retain set D_r. Defaults are SCRUB's CIFAR-10 settings.
 *
 * @remarks Importing this module registers nothing: call {@link registerScrub} on a run
 * container (`createContainer({ use: [registerScrub] })`) and run it with
 * `runUnlearner(container, 'scrub', ...)`. Built only on `@unlearnjs/core`'s public API.
 * @packageDocumentation
 */
export { registerScrub, scrubPlugin } from './register.js';
export { ScrubUnlearner, scrubOptionsSchema, type ScrubOptions } from './scrub-unlearner.js';
export { scrubPass, type ScrubPassOptions, type ScrubPassStats, type ScrubStep } from './scrub-pass.js';
export { distillKl } from './distill-kl.js';
