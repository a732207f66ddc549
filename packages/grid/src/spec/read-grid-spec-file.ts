import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { UnlearnError } from '@unlearnjs/core';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { type GridSpec, type ParseGridSpecOptions, parseGridSpec } from './grid-spec.js';

/** The largest spec file read, in bytes: a grid spec is a few lines, and a huge file is a mistake (or an attack on the parser). */
export const GRID_SPEC_MAX_BYTES = 1024 * 1024;

/**
 * Read a grid spec file (JSON, or YAML by extension `.yaml`/`.yml`) and validate it.
 *
 * @param file - path of a `.json`, `.yaml` or `.yml` file
 * @param options - as for {@link parseGridSpec}; `source` is the file
 * @returns the resolved spec
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming the file when it is missing, larger
 *   than {@link GRID_SPEC_MAX_BYTES}, of another extension, not valid JSON/YAML (with the line
 *   and column in the message and in `details`), or not a valid spec (naming the key)
 * @example
 * ```ts
 * const spec = await readGridSpecFile('grids/paper.yaml', { defaults: { methods: [{ method: 'ft' }] } });
 * ```
 */
export async function readGridSpecFile(file: string, options: Omit<ParseGridSpecOptions, 'source'> = {}): Promise<GridSpec> {
  const ext = extname(file).toLowerCase();
  const format = ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
  if (format === undefined) fail(file, `has the extension "${ext}"; name it .json, .yaml or .yml`);

  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) fail(file, 'is not a file');
    size = st.size;
  } catch (cause) {
    if (cause instanceof UnlearnError) throw cause;
    fail(file, 'cannot be read; check the path', { cause });
  }
  if (size > GRID_SPEC_MAX_BYTES) fail(file, `is ${size} bytes; a grid spec may be at most ${GRID_SPEC_MAX_BYTES} bytes (1 MiB)`);

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    fail(file, 'cannot be read; check the path', { cause });
  }

  let raw: unknown;
  if (format === 'json') {
    try {
      raw = JSON.parse(text);
    } catch (cause) {
      // V8 quotes the text around the error, newlines included: keep the message on one line.
      const message = String((cause as Error).message).replace(/\s+/g, ' ');
      const at = jsonErrorPosition(text, message);
      fail(file, `is not valid JSON${at ? ` at line ${at.line}, column ${at.column}` : ''}: ${message}`, { cause, ...at });
    }
  } else {
    try {
      raw = parseYaml(text);
    } catch (cause) {
      const pos = cause instanceof YAMLParseError ? cause.linePos?.[0] : undefined;
      const at = pos ? { line: pos.line, column: pos.col } : undefined;
      const first = String((cause as Error).message).split('\n')[0];
      fail(file, `is not valid YAML${at ? ` at line ${at.line}, column ${at.column}` : ''}: ${first}`, { cause, ...at });
    }
  }
  return parseGridSpec(raw, { ...options, source: file });
}

function fail(file: string, what: string, extra: { cause?: unknown; line?: number; column?: number } = {}): never {
  const { cause, ...at } = extra;
  throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Grid spec file ${file} ${what}.`, {
    details: { key: 'file', source: file, file, ...at },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * V8 says where JSON broke as a character offset ("at position 42") for some errors (not for
 * an unexpected token), newer versions also as "(line 3 column 5)"; people need the line.
 */
function jsonErrorPosition(text: string, message: string): { line: number; column: number } | undefined {
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  const p = /position (\d+)/.exec(message);
  if (!p) return undefined;
  const before = text.slice(0, Number(p[1]));
  const line = before.split('\n').length;
  return { line, column: Number(p[1]) - before.lastIndexOf('\n') };
}
