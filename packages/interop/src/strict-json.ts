/**
 * Why {@link parseStrictJson} fails: what and where (a character offset into the text).
 * @internal
 */
export class StrictJsonError extends Error {
  /**
   * @param message - what is wrong
   * @param offset - where, in characters from the start of the text
   */
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

/** Nesting deeper than this is refused rather than risking a stack overflow on hostile input. */
const MAX_DEPTH = 64;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// The extent of a string literal; JSON.parse then checks its escapes and control characters.
const STRING = /"(?:[^"\\]|\\.)*"/y;

/**
 * Parse JSON text (RFC 8259) and refuse an object that names the same key twice.
 *
 * @param text - the JSON text
 * @returns the parsed value
 * @throws StrictJsonError on a syntax error, a duplicate key (compared after unescaping, so
 *   `"a"` and `"\u0061"` are the same key) or nesting deeper than 64
 * @remarks `JSON.parse` silently keeps the last of duplicate keys; in a safetensors header
 * that would let one tensor entry hide another, which readers disagree on. Strings are
 * decoded by `JSON.parse` itself, so escapes mean exactly what they mean there.
 * @internal
 */
export function parseStrictJson(text: string): unknown {
  let pos = 0;

  const fail = (message: string): never => {
    throw new StrictJsonError(`${message} at character ${pos}`, pos);
  };
  const skipWhitespace = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      pos++;
    }
  };
  const readString = (): string => {
    STRING.lastIndex = pos;
    const m = STRING.exec(text);
    if (!m) return fail('invalid string');
    pos += m[0].length;
    try {
      return JSON.parse(m[0]) as string;
    } catch {
      return fail('invalid string');
    }
  };
  const expectLiteral = (word: string, value: unknown): unknown => {
    if (text.startsWith(word, pos)) {
      pos += word.length;
      return value;
    }
    return fail('unexpected token');
  };

  const readValue = (depth: number): unknown => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    skipWhitespace();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const out: Record<string, unknown> = Object.create(null);
      const seen = new Set<string>();
      skipWhitespace();
      if (text[pos] === '}') {
        pos++;
        return out;
      }
      for (;;) {
        skipWhitespace();
        if (text[pos] !== '"') fail('expected a key');
        const keyAt = pos;
        const key = readString();
        if (seen.has(key)) throw new StrictJsonError(`duplicate key ${JSON.stringify(key)} at character ${keyAt}`, keyAt);
        seen.add(key);
        skipWhitespace();
        if (text[pos] !== ':') fail('expected ":"');
        pos++;
        out[key] = readValue(depth + 1);
        skipWhitespace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return out;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      pos++;
      const out: unknown[] = [];
      skipWhitespace();
      if (text[pos] === ']') {
        pos++;
        return out;
      }
      for (;;) {
        out.push(readValue(depth + 1));
        skipWhitespace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return out;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return readString();
    if (c === 't') return expectLiteral('true', true);
    if (c === 'f') return expectLiteral('false', false);
    if (c === 'n') return expectLiteral('null', null);
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return fail(pos >= text.length ? 'unexpected end' : 'unexpected token');
    pos += m[0].length;
    return Number(m[0]);
  };

  const value = readValue(0);
  skipWhitespace();
  if (pos !== text.length) fail('unexpected text after the value');
  return value;
}
