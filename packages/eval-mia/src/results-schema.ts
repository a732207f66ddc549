import { type EvalResult, UnlearnError } from '@unlearnjs/core';
import { z } from 'zod';

/** The version of the results file format this package writes and reads. */
export const RESULTS_SCHEMA_VERSION = 1;

const percent = z.number().min(0).max(100);

/** Schema of a row's metrics: the paper's five, plus any further named number. */
export const resultMetricsSchema = z
  .object({
    /** Unlearning accuracy, percent. */
    UA: percent,
    /** Retain accuracy, percent. */
    RA: percent,
    /** Test accuracy, percent. */
    TA: percent,
    /** Share of the forget set the MIA calls non-member, percent. */
    'MIA-efficacy': percent,
    /** Run time of the unlearning step, minutes. */
    RTE: z.number().min(0),
  })
  .catchall(z.number());

/** Schema of one row: one method on one model (dense or sparse). */
export const resultRowSchema = z
  .strictObject({
    /** Unlearner id (`retrain`, `ft`, `ga`, ...). */
    method: z.string().min(1),
    /** `'dense'`, or the global sparsity of the model the method ran on, in [0, 1]. */
    sparsity: z.union([z.literal('dense'), z.number().min(0).max(1)]),
    /** Whether the method trained LoRA adapters instead of the full model. */
    lora: z.boolean().optional(),
    metrics: resultMetricsSchema,
    /** Wall-clock seconds of the unlearning step (RTE × 60). */
    seconds: z.number().min(0),
    /** The method's options, for the record. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((row, ctx) => {
    // RTE is minutes and seconds is seconds: catch a unit mix-up, tolerating rounding.
    const minutes = row.seconds / 60;
    if (Math.abs(row.metrics.RTE - minutes) > 0.01 + 0.01 * minutes) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'RTE'],
        message: `RTE must be the run time in minutes (seconds / 60 = ${minutes.toFixed(4)}), got ${row.metrics.RTE}`,
      });
    }
  });

/** Schema of a results file (`results.json`). */
export const resultsSchema = z
  .strictObject({
    schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
    /** ISO 8601 time the results were written. */
    createdAt: z.iso.datetime({ offset: true }),
    model: z.strictObject({
      /** Architecture id, e.g. `resnet18`. */
      arch: z.string().min(1),
      /** Architecture options. */
      config: z.record(z.string(), z.unknown()),
      /** Global sparsity of the pruned model the sparse rows used, in [0, 1]. */
      sparsity: z.number().min(0).max(1),
    }),
    /** The forget set. */
    forget: z
      .strictObject({
        /** Forgotten class, or -1 for random forgetting. */
        classToForget: z.number().int().min(-1),
        size: z.number().int().min(0),
        seed: z.number().int().optional(),
        /**
         * The held-out images TA was measured on and the MIA took its non-members from, e.g.
         * "the test set without class 0 (9,000 images)" (the reference drops the class when the
         * whole class is forgotten).
         */
        heldOut: z.string().min(1).optional(),
      })
      .optional(),
    /** The retain set: its size and how many of its images RA was measured on. */
    retain: z
      .strictObject({
        size: z.number().int().min(0),
        evaluated: z.number().int().min(0).optional(),
      })
      .optional(),
    rows: z.array(resultRowSchema).min(1),
  })
  .superRefine((r, ctx) => {
    const seen = new Map<string, number>();
    r.rows.forEach((row, i) => {
      const key = `${row.method}|${row.sparsity}|${row.lora === true}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['rows', i],
          message: `duplicates rows[${first}] (method "${row.method}", sparsity ${row.sparsity}${row.lora ? ', LoRA' : ''})`,
        });
      } else seen.set(key, i);
    });
  });

/** A results file, as validated by {@link validateResults}. */
export type Results = z.output<typeof resultsSchema>;
/** One row of a {@link Results}. */
export type ResultRow = z.output<typeof resultRowSchema>;
/** Sparsity of a row: `'dense'` or a share in [0, 1]. */
export type RowSparsity = ResultRow['sparsity'];

/**
 * Check a parsed results file and return it typed.
 *
 * @param json - the parsed JSON (or the JSON text)
 * @returns the results, unchanged apart from type narrowing
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming each wrong field (in `details.issues`);
 *   the results are an argument of the report functions, and the code is the one every other
 *   wrong input of unlearnjs gets
 */
export function validateResults(json: unknown): Results {
  let input = json;
  if (typeof json === 'string') {
    try {
      input = JSON.parse(json);
    } catch (cause) {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', 'The results file is not valid JSON; re-run the experiment or fix the file.', {
        cause,
      });
    }
  }
  const parsed = resultsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  const version = (input as { schemaVersion?: unknown } | null)?.schemaVersion;
  const hint =
    version !== undefined && version !== RESULTS_SCHEMA_VERSION
      ? ` This package reads schemaVersion ${RESULTS_SCHEMA_VERSION}; the file has ${JSON.stringify(version)}: use the matching @unlearnjs/eval-mia version.`
      : '';
  throw new UnlearnError(
    'UNLEARN_INVALID_OPTIONS',
    `Invalid results file: ${issues
      .slice(0, 8)
      .map((i) => `${i.path}: ${i.message}`)
      .join('; ')}${issues.length > 8 ? `; and ${issues.length - 8} more` : ''}.${hint}`,
    { details: { issues } },
  );
}

/**
 * Read and validate a results file.
 * @param file - path of a `results.json`
 * @returns the validated results
 * @throws UnlearnError `UNLEARN_DATA_MISSING` when the file cannot be read; `UNLEARN_INVALID_OPTIONS` when it is wrong
 */
export async function readResults(file: string): Promise<Results> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new UnlearnError('UNLEARN_DATA_MISSING', `Cannot read results file ${file}; check the path.`, { cause, details: { file } });
  }
  return validateResults(text);
}

/**
 * Build a results row from an unlearning run: metrics merged from the evaluators' results, RTE
 * (minutes) from the unlearner's report.
 *
 * @param args - method id, sparsity, LoRA flag, the unlearner's report (its `seconds`), the
 *   evaluation results (e.g. of `accuracy` and `svc-mia`), and the method's options
 * @returns a row that {@link resultRowSchema} accepts
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when a required metric (UA, RA, TA, MIA-efficacy) is missing or out of range
 */
export function resultRow(args: {
  method: string;
  sparsity: RowSparsity;
  lora?: boolean;
  report: { seconds: number };
  evaluations: readonly EvalResult[];
  options?: Record<string, unknown>;
}): ResultRow {
  const merged: Record<string, number> = {};
  for (const e of args.evaluations) Object.assign(merged, e.metrics);
  const row = {
    method: args.method,
    sparsity: args.sparsity,
    ...(args.lora === undefined ? {} : { lora: args.lora }),
    metrics: { ...merged, RTE: args.report.seconds / 60 },
    seconds: args.report.seconds,
    ...(args.options === undefined ? {} : { options: args.options }),
  };
  const parsed = resultRowSchema.safeParse(row);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Cannot build the results row of "${args.method}": ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}. Run both the accuracy and svc-mia evaluators.`,
      { details: { issues } },
    );
  }
  return parsed.data;
}
