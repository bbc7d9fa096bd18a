// `idpsync render` flags and output; the work is in ./render.ts.
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { UsageError, parseOrExplain, type Output } from './args.js';
import { KubeClient } from '../kube/client.js';
import type { VerifyResult } from '../providers/types.js';
import { planToJson, planToTable, planToYaml, readRenderInput, render } from './render.js';

const FORMATS = ['yaml', 'json', 'table'] as const;

export async function runRender(args: string[], io: Output): Promise<number> {
  const { values } = parseOrExplain(() =>
    parseArgs({
      args,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'yaml' },
        kubeconfig: { type: 'string' },
        verify: { type: 'boolean', default: false },
      },
    }),
  );
  if (!values.file?.length) throw new UsageError('needs at least one -f FILE');
  const format = values.output as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new UsageError(`-o must be ${FORMATS.join(', ')}, not "${values.output}"`);
  const input = readRenderInput(values.file);
  const cluster = values.kubeconfig ? clusterFrom(values.kubeconfig) : undefined;
  const printChecks = (verify: VerifyResult) => {
    for (const c of verify.checks) io.err(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : `: ${c.missing ? `missing ${c.missing}` : (c.message ?? '')}`}`);
  };
  const result = await render(input, { verify: values.verify, onVerify: printChecks, cluster });
  const ds = input.directorySync;
  const print = { yaml: planToYaml, json: planToJson, table: (_: unknown, plan: typeof result.plan, existing: typeof result.existing) => planToTable(plan, existing) }[format];
  io.out(print(ds, result.plan, result.existing));
  io.err(`# ${result.apiCalls} IdP API call(s)${result.existing ? `; compared with ${result.existing.users.length} User(s), ${result.existing.groups.length} Group(s) in ${ds.metadata.namespace}` : ''}`);
  return 0;
}

function clusterFrom(file: string): KubeClient {
  const config = new KubeConfig();
  config.loadFromFile(file);
  return new KubeClient(config);
}
