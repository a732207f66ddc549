import { createHash } from 'node:crypto';
import { type DataSplits, UnlearnError } from '@unlearnjs/core';

/**
 * What identifies a forget set: the flags that drew it, its size and a hash of its indices. The
 * `forget` command stores it in the unlearned checkpoint so that `eval` measures the same set.
 */
export interface ForgetSetRecord {
  seed: number;
  classToForget: number;
  numToForget: number | null;
  trainLimit: number | null;
  testLimit: number | null;
  size: number;
  /** SHA-256 of the forget indices (int32, little-endian, ascending). */
  sha256: string;
}

/** The flags that draw a forget set, as the commands name them. */
export interface ForgetSetFlags {
  seed: number;
  classToForget: number;
  numToForget?: number;
  trainLimit?: number;
  testLimit?: number;
}

/**
 * Describe a run's forget set.
 * @param splits - the run's splits
 * @param flags - what drew them
 * @returns the record
 */
export function forgetSetRecord(splits: DataSplits, flags: ForgetSetFlags): ForgetSetRecord {
  const idx = Int32Array.from(splits.forget.indices);
  const bytes = new Uint8Array(idx.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < idx.length; i++) view.setInt32(i * 4, idx[i], true);
  return {
    seed: flags.seed,
    classToForget: flags.classToForget,
    numToForget: flags.numToForget ?? null,
    trainLimit: flags.trainLimit ?? null,
    testLimit: flags.testLimit ?? null,
    size: idx.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** The CLI flags that reproduce a recorded forget set. */
function flagsOf(r: ForgetSetRecord): string {
  return [
    `--seed ${r.seed}`,
    `--class-to-replace ${r.classToForget}`,
    r.numToForget === null ? '' : `--num-indexes-to-replace ${r.numToForget}`,
    r.trainLimit === null ? '' : `--train-limit ${r.trainLimit}`,
    r.testLimit === null ? '' : `--test-limit ${r.testLimit}`,
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * Read the record a checkpoint's metadata holds, if any.
 * @param meta - checkpoint metadata
 * @returns the record, or undefined for checkpoints written before records existed
 */
export function recordedForgetSet(meta: Record<string, unknown>): ForgetSetRecord | undefined {
  const r = meta.forgetSet as Partial<ForgetSetRecord> | undefined;
  if (!r || typeof r !== 'object' || typeof r.sha256 !== 'string' || typeof r.seed !== 'number' || typeof r.classToForget !== 'number') {
    return undefined;
  }
  return r as ForgetSetRecord;
}

/**
 * Refuse to measure a different forget set than the one a model was unlearned on.
 * @param recorded - from the checkpoint
 * @param actual - what the flags draw now
 * @param file - the checkpoint, for the message
 * @throws UnlearnError `UNLEARN_FORGET_SET_MISMATCH` naming both and the flags to use
 */
export function checkSameForgetSet(recorded: ForgetSetRecord, actual: ForgetSetRecord, file: string): void {
  if (recorded.sha256 === actual.sha256) return;
  throw new UnlearnError(
    'UNLEARN_FORGET_SET_MISMATCH',
    `${file} was unlearned on a forget set of ${recorded.size} images drawn with \`${flagsOf(recorded)}\`, but these flags draw a different one (${actual.size} images, \`${flagsOf(actual)}\`). Pass the recorded flags, or leave them out to use them.`,
    { details: { file, recorded, actual } },
  );
}
