declare const tokenType: unique symbol;

/**
 * A typed dependency-injection token: a global symbol branded with the type it resolves to.
 *
 * @remarks Tokens are `Symbol.for('@unlearnjs/core:NAME')`, so two copies of a package that
 * agree on the name agree on the token.
 */
export type Token<T> = symbol & { readonly [tokenType]?: T };

/**
 * Create (or look up) the token `@unlearnjs/core:NAME`.
 *
 * @param name - SCREAMING_SNAKE name, unique within unlearnjs
 * @returns the token
 */
export function defineToken<T>(name: string): Token<T> {
  return Symbol.for(`@unlearnjs/core:${name}`) as Token<T>;
}
