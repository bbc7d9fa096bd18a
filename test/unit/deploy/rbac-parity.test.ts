// The Helm chart must grant exactly what deploy/rbac.yaml grants: the end-to-end tests prove that
// file's least privilege on a real apiserver. deploy/rbac.yaml is rendered from the chart by
// scripts/render-manifests.ts (checked in CI, which needs helm); this test needs no helm and catches
// a rule changed in the chart without re-rendering.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';

const root = new URL('../../../', import.meta.url).pathname;

function deployedRules(kind: string): unknown {
  const docs = parseAllDocuments(readFileSync(`${root}deploy/rbac.yaml`, 'utf8')).map((d) => d.toJS());
  return docs.find((d) => d?.kind === kind && d.metadata.labels?.['app.kubernetes.io/component'] === 'operator')?.rules;
}

/** The chart's rules helper is plain YAML between its define and end. */
function chartOperatorRules(): unknown {
  const text = readFileSync(`${root}helm/idpsync/templates/rbac/_rules.tpl`, 'utf8');
  const start = text.indexOf('{{- define "idpsync.operatorRules" -}}');
  expect(start, 'the idpsync.operatorRules helper').to.be.greaterThan(-1);
  const body = text.slice(text.indexOf('\n', start) + 1, text.indexOf('{{- end }}', start));
  expect(body).to.not.include('{{', 'the rules helper must stay plain YAML');
  return parse(body);
}

describe('Helm chart RBAC', () => {
  it('grants the same ClusterRole rules as deploy/rbac.yaml', () => {
    const rules = deployedRules('ClusterRole');
    expect(rules).to.be.an('array').with.length.greaterThan(3);
    expect(chartOperatorRules()).to.deep.equal(rules);
  });

  it('lets the operator read Secrets but never list or watch them', () => {
    const rules = chartOperatorRules() as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const secrets = rules.filter((r) => r.apiGroups.includes('') && r.resources.includes('secrets'));
    expect(secrets).to.have.length(1);
    expect(secrets[0]!.verbs).to.include('get');
    expect(secrets[0]!.verbs.filter((v) => v === 'list' || v === 'watch' || v === '*')).to.deep.equal([]);
  });
});
