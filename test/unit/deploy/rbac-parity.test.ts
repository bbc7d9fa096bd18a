// The Helm chart's ClusterRole must grant exactly what deploy/rbac.yaml grants: the end-to-end tests
// prove that file's least privilege on a real apiserver, so the chart may not drift from it.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';

const root = new URL('../../../', import.meta.url).pathname;

function clusterRoleRules(): unknown {
  const docs = parseAllDocuments(readFileSync(`${root}deploy/rbac.yaml`, 'utf8')).map((d) => d.toJS());
  return docs.find((d) => d?.kind === 'ClusterRole').rules;
}

/** The chart template is not plain YAML as a whole; its rules block is, up to the next document. */
function chartRules(): unknown {
  const text = readFileSync(`${root}helm/idpsync/templates/clusterrole.yaml`, 'utf8');
  const block = text.slice(text.indexOf('\nrules:') + 1).split('\n---')[0];
  return parse(block).rules;
}

describe('Helm chart RBAC', () => {
  it('grants the same ClusterRole rules as deploy/rbac.yaml', () => {
    const rules = clusterRoleRules();
    expect(rules).to.be.an('array').with.length.greaterThan(3);
    expect(chartRules()).to.deep.equal(rules);
  });
});
