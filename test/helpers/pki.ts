// Moved to src/lab/pki.ts. This file remains only because test/unit/** and test/helpers/memory-mesh.ts
// (owned by the unit-test refactoring) still import it; delete it once they import src/lab/pki.js.
export * from '../../src/lab/pki.js';
