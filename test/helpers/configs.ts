// Moved to src/lab/configs.ts. This file remains only because test/unit/** and test/helpers/memory-mesh.ts
// (owned by the unit-test refactoring) still import it; delete it once they import src/lab/configs.js.
export * from '../../src/lab/configs.js';
