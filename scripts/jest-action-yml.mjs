// Jest transform for `import inputs from '../../action.yml'` (see scripts/action-inputs.mjs).
import { actionInputsModule } from './action-inputs.mjs';

export default {
  process(sourceText) {
    return { code: actionInputsModule(sourceText) };
  },
};
