import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isUnlearnError } from '@unlearnjs/core';
import { resultRowSchema } from '@unlearnjs/eval-mia';
import { getJson } from '../artifacts/index.js';
import { type GridResults, summarizeGrid, writeGridReport } from '../report/index.js';
import { type GridSpec, cellArtifactKey, expandGrid } from '../spec/index.js';
import type { ArtifactStore, CellFailure, GridRow } from '../types.js';

/** Where a grid's report lies in its artifact store. */
export const REPORT_PREFIX = 'report';

/**
 * Gather a finished grid's rows from its artifact store, each verified (checksum and row schema),
 * into its results: per-seed rows, the mean ± std summary and the failed cells. Both runners end
 * here, so their reports are built the same way.
 *
 * @param spec - the grid
 * @param store - its artifact store
 * @param failures - the cells that failed (a row that is missing or unreadable is added here)
 * @returns the results
 */
export async function collectGridResults(spec: GridSpec, store: ArtifactStore, failures: readonly CellFailure[]): Promise<GridResults> {
  const failed = new Map(failures.map((f) => [f.id, f]));
  const rows: GridRow[] = [];
  for (const cell of expandGrid(spec)) {
    if (cell.kind !== 'row' || failed.has(cell.id)) continue;
    try {
      const row = resultRowSchema.parse(await getJson(store, cellArtifactKey(cell)));
      rows.push({ cell: cell.id, model: cell.model, seed: cell.seed, scenario: cell.scenario, row });
    } catch (err) {
      failed.set(cell.id, {
        id: cell.id,
        code: isUnlearnError(err) ? err.code : 'UNLEARN_ARTIFACT_CORRUPT',
        message: `its row cannot be read from the store: ${(err as Error).message}`,
        attempts: 0,
      });
    }
  }
  return summarizeGrid(spec, rows, [...failed.values()]);
}

/**
 * Write the grid's report (results.json, results.md, report.html) into its artifact store under
 * `report/`, where `unlearn grid` fetches it from.
 * @param results - what {@link collectGridResults} returned
 * @param store - the grid's store
 */
export async function publishGridReport(results: GridResults, store: ArtifactStore): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'unlearnjs-grid-report-'));
  try {
    await writeGridReport(results, dir);
    for (const name of await readdir(dir)) await store.put(`${REPORT_PREFIX}/${name}`, path.join(dir, name));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Fetch a grid's published report from its store into a local folder.
 * @param store - the grid's store
 * @param dir - the folder (created)
 * @returns the files written
 */
export async function fetchGridReport(store: ArtifactStore, dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const name of ['results.json', 'results.md', 'report.html']) {
    const file = path.join(dir, name);
    await store.get(`${REPORT_PREFIX}/${name}`, file);
    files.push(file);
  }
  return files;
}
