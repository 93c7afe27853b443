/** action.yml's inputs, made into a module when bundling and testing (scripts/action-inputs.mjs). */
declare module '*/action.yml' {
  /** Every input by name, in action.yml's order: its default ('' when none) and its description. */
  const inputs: Readonly<Record<string, { readonly default: string; readonly description: string }>>;
  export default inputs;
}
