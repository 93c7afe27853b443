/** This action's version (kept equal to package.json's by a unit test); recorded in manifests. */
export const VERSION = '0.1.0';
