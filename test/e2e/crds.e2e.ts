// The generated CRDs round-trip through a real apiserver unchanged: what the apiserver stores is
// exactly what crdgen wrote. When it is not (a field the apiserver drops or defaults), server-side
// apply by a second manager right after `helm install` fails with a conflict, and GitOps tools
// report the CRDs as permanently out of sync.
import { expect } from 'chai';
import { stringify } from 'yaml';
import { renderCrd } from '../../src/api/crdgen.js';
import { ALL_KINDS } from '../../src/api/v1alpha1/index.js';
import { kubectl } from './harness/index.js';

describe('generated CRDs on a real apiserver', () => {
  for (const def of ALL_KINDS) {
    it(`${def.plural}: the stored spec equals the generated one`, async () => {
      const generated = renderCrd(def) as { metadata: { name: string }; spec: unknown };
      // A manager of its own and no --force-conflicts: a value the apiserver changed would conflict here.
      const applied = await kubectl(['apply', '--server-side', '--field-manager=idpsync-crd-roundtrip', '-f', '-'], { input: stringify(generated) });
      expect(applied.code, applied.stderr).to.equal(0);

      const read = await kubectl(['get', 'crd', generated.metadata.name, '-o', 'json']);
      expect(read.code, read.stderr).to.equal(0);
      const stored = JSON.parse(read.stdout) as { spec: unknown };
      expect(stored.spec).to.deep.equal(generated.spec);
    });
  }
});
