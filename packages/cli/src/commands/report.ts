import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UnlearnError } from '@unlearnjs/core';
import { validateResults, writeReport } from '@unlearnjs/eval-mia';
import type { Command } from 'commander';
import type { CliIo } from '../common-options.js';

/**
 * `unlearn report`: render a results file.
 * @param program - the root program
 * @param io - output streams
 */
export function addReportCommand(program: Command, io: CliIo): void {
  program
    .command('report')
    .description('Render results.json into a Markdown table, SVG charts and a self-contained HTML report.')
    .requiredOption('--results <file>', 'results.json written by `unlearn run`')
    .option('--out <dir>', 'output folder (default: next to the results file)')
    .action(async (opts) => {
      let text: string;
      try {
        text = await fs.readFile(opts.results, 'utf8');
      } catch (cause) {
        throw new UnlearnError('UNLEARN_DATA_MISSING', `No results file at ${opts.results}; run \`unlearn run\` first.`, { cause });
      }
      const results = validateResults(text);
      const dir = opts.out ?? path.dirname(opts.results);
      await writeReport(results, dir);
      io.stdout(`${(await fs.readFile(path.join(dir, 'results.md'), 'utf8')).trim()}\n`);
    });
}
