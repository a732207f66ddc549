/**
 * Gradient-ascent (GA) unlearner for unlearnjs: minimise −CE on the forget set D_f, pushing
 * the model away from what it learned of it ("Model Sparsity Can Simplify Machine
 * Unlearning", Jia, Liu et al., NeurIPS 2023).
 *
 * @remarks Importing this module registers nothing: call {@link registerGa} on a run
 * container (`createContainer({ use: [registerGa] })`) and run it with `runUnlearner(container, 'ga', ...)`.
 * @packageDocumentation
 */
export { registerGa, gaPlugin } from './register.js';
export { GaUnlearner, gaOptionsSchema, negativeCrossEntropy, type GaOptions } from './ga-unlearner.js';
