/**
 * Options of each unlearner, by plugin name. Plugin packages add to it by module augmentation:
 *
 * @example
 * ```ts
 * declare module '@unlearnjs/core' {
 *   interface UnlearnerOptionsByName { ga: GaOptions }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation
export interface UnlearnerOptionsByName {}
/** Options of each pruner, by plugin name (module augmentation). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation
export interface PrunerOptionsByName {}
/** Options of each adapter, by plugin name (module augmentation). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation
export interface AdapterOptionsByName {}
/** Options of each evaluator, by plugin name (module augmentation). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation
export interface EvaluatorOptionsByName {}
/** Options of each model architecture, by plugin name (module augmentation). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation
export interface ModelOptionsByName {}

/** Input options of plugin `N` of a by-name map `M`: typed when known, loose otherwise. */
export type OptionsFor<M, N extends string> = N extends keyof M ? Partial<M[N]> : Record<string, unknown>;
