import { UnlearnError } from '@unlearnjs/core';
import { z } from 'zod';
import { type GridSpec, expandGrid, parseGridSpec } from '../spec/index.js';
import type { Cell } from '../types.js';

/** Version of the job payloads; a worker refuses any other. */
export const JOB_PAYLOAD_VERSION = 1;

const gridName = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/);
const base = { v: z.literal(JOB_PAYLOAD_VERSION), grid: gridName, spec: z.unknown() };

/**
 * A grid job is data, never code: a strict schema (unknown keys refused), a spec that must parse,
 * and a cell that must be one of the spec's own cells. Nothing in a payload names a package, a
 * file or a folder: plugins, data and the artifact store are the worker's own flags.
 */
export const gridJobPayloadSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...base, kind: z.literal('cell'), cell: z.string().min(1).max(512) }),
  z.strictObject({
    ...base,
    kind: z.literal('lineage'),
    model: z.string().min(1).max(128),
    seed: z.number().int().min(0),
    step: z.number().int().min(0).max(3),
  }),
  z.strictObject({ ...base, kind: z.literal('report') }),
]);

/** A validated job: its spec parsed, and for a cell job the cell itself. */
export type GridJob =
  | { kind: 'cell'; grid: string; spec: GridSpec; cell: Cell }
  | { kind: 'lineage'; grid: string; spec: GridSpec; model: string; seed: number; step: number }
  | { kind: 'report'; grid: string; spec: GridSpec };

/** The raw payload of a job, as enqueued. */
export type GridJobPayload = z.input<typeof gridJobPayloadSchema>;

/**
 * Validate a job's payload.
 * @param data - the job's data, as read from Redis
 * @returns the job, with its spec parsed and its cell found in the spec
 * @throws UnlearnError `UNLEARN_INVALID_JOB` naming what is wrong
 */
export function parseGridJob(data: unknown): GridJob {
  const parsed = gridJobPayloadSchema.safeParse(data);
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
    throw new UnlearnError('UNLEARN_INVALID_JOB', `Refusing a grid job whose payload is not valid: ${what}.`, {
      details: { issues: parsed.error.issues.map((i) => i.path.join('.')) },
    });
  }
  const p = parsed.data;
  let spec: GridSpec;
  try {
    spec = parseGridSpec(p.spec, { source: 'the job payload' });
  } catch (err) {
    throw new UnlearnError('UNLEARN_INVALID_JOB', `Refusing a grid job whose spec is not valid: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (spec.name !== p.grid) {
    throw new UnlearnError('UNLEARN_INVALID_JOB', `Refusing a grid job of grid "${p.grid}" whose spec is grid "${spec.name}".`);
  }
  if (p.kind === 'cell') {
    const cell = expandGrid(spec).find((c) => c.id === p.cell);
    if (!cell) throw new UnlearnError('UNLEARN_INVALID_JOB', `Refusing a job for cell "${p.cell}", which grid "${p.grid}" does not have.`);
    return { kind: 'cell', grid: p.grid, spec, cell };
  }
  if (p.kind === 'lineage') {
    if (!spec.models.includes(p.model) || !spec.seeds.includes(p.seed)) {
      throw new UnlearnError(
        'UNLEARN_INVALID_JOB',
        `Refusing a lineage job for ${p.model} seed ${p.seed}, which grid "${p.grid}" does not have.`,
      );
    }
    return { kind: 'lineage', grid: p.grid, spec, model: p.model, seed: p.seed, step: p.step };
  }
  return { kind: 'report', grid: p.grid, spec };
}
