import { expect } from 'chai';
import {
  deletionsHeld,
  directoryObjects,
  forgetDirectory,
  informerRestartsTotal,
  kubeWritesTotal,
  leader,
  registry,
  syncDurationSeconds,
  syncTotal,
} from '../../../src/runtime/metrics.js';

async function sample(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value;
}

describe('runtime/metrics', () => {
  beforeEach(() => registry.resetMetrics());

  it('registers every operator metric under the idpsync_ prefix, plus process metrics', async () => {
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    for (const name of [
      'idpsync_sync_total',
      'idpsync_sync_duration_seconds',
      'idpsync_idp_api_calls_total',
      'idpsync_kube_writes_total',
      'idpsync_directory_objects',
      'idpsync_revocations_total',
      'idpsync_deletions_held',
      'idpsync_workqueue_depth',
      'idpsync_workqueue_retries_total',
      'idpsync_informer_restarts_total',
      'idpsync_leader',
      'idpsync_webhook_deliveries_total',
    ]) {
      expect(names).to.include(name);
    }
    expect(names).to.include('process_cpu_user_seconds_total');
  });

  it('records labelled values that show up in the exposition text', async () => {
    syncTotal.inc({ namespace: 'ns', directory: 'okta', result: 'success' });
    syncTotal.inc({ namespace: 'ns', directory: 'okta', result: 'success' });
    kubeWritesTotal.inc({ kind: 'User', verb: 'apply' }, 3);
    informerRestartsTotal.inc({ resource: 'directorysyncs' });
    leader.set(1);
    expect(await sample('idpsync_sync_total', { result: 'success' })).to.equal(2);
    const text = await registry.metrics();
    expect(text).to.include('idpsync_kube_writes_total{kind="User",verb="apply"} 3');
    expect(text).to.include('idpsync_informer_restarts_total{resource="directorysyncs"} 1');
    expect(text).to.include('idpsync_leader 1');
  });

  it('forgetDirectory drops only that directory\'s series, histograms included', async () => {
    for (const directory of ['a', 'b']) {
      syncTotal.inc({ namespace: 'ns', directory, result: 'success' });
      syncDurationSeconds.observe({ namespace: 'ns', directory }, 1.5);
      directoryObjects.set({ namespace: 'ns', directory, kind: 'User', state: 'active' }, 10);
      deletionsHeld.set({ namespace: 'ns', directory }, 2);
    }
    await forgetDirectory('ns', 'a');
    const text = await registry.metrics();
    expect(text).not.to.match(/directory="a"/);
    expect(text).to.include('idpsync_directory_objects{namespace="ns",directory="b",kind="User",state="active"} 10');
    expect(text).to.include('idpsync_sync_duration_seconds_count{namespace="ns",directory="b"} 1');
  });
});
