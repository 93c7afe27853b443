/**
 * The inputs as action.yml declares them: the one module that reads action.yml, made into a module
 * when bundling and testing (scripts/action-inputs.mjs), so that names, defaults and descriptions
 * exist once, in action.yml.
 */
import declared from '../../action.yml';

/** An input as action.yml declares it. */
export interface InputSpec {
  name: string;
  /** The default the runner applies ('' when none); may be a workflow expression (`${{ github.token }}`). */
  default: string;
  description: string;
}

/** Every input by name, in action.yml's order, with its default and description (e.g. for a --help). */
export const ACTION_INPUTS = declared;

/** Every input's default, by name. */
export const INPUT_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(declared).map(([name, spec]) => [name, spec.default]),
);

/**
 * The declarations of `names`, in that order: for the modules that own a group of inputs.
 * @throws Error naming an input action.yml does not declare (a programming error the unit tests catch).
 */
export function inputSpecs(names: readonly string[]): InputSpec[] {
  return names.map((name) => {
    const spec = declared[name];
    if (spec === undefined) throw new Error(`action.yml declares no input '${name}'.`);
    return { name, default: spec.default, description: spec.description };
  });
}
