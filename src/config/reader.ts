/** The one way commands and input parsers read the raw inputs: a leaf module, so that any room may take a reader without importing the config's types. */

/** Reads one raw input by its action.yml name ('' when unset). */
export type InputReader = (name: string) => string;
