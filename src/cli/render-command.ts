// `idpsync render` flags and output; the work is in ./render.ts.
import { parseArgs } from 'node:util';
import { UsageError, parseOrExplain, type Output } from './args.js';
import { planToTable, planToYaml, readRenderInput, render } from './render.js';

export async function runRender(args: string[], io: Output): Promise<number> {
  const { values } = parseOrExplain(() =>
    parseArgs({
      args,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'yaml' },
        verify: { type: 'boolean', default: false },
      },
    }),
  );
  if (!values.file?.length) throw new UsageError('needs at least one -f FILE');
  if (values.output !== 'yaml' && values.output !== 'table') throw new UsageError(`-o must be yaml or table, not "${values.output}"`);
  const input = readRenderInput(values.file);
  const result = await render(input, { verify: values.verify });
  if (result.verify) {
    for (const c of result.verify.checks) io.err(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : `: ${c.missing ? `missing ${c.missing}` : (c.message ?? '')}`}`);
  }
  io.out(values.output === 'table' ? planToTable(result.plan) : planToYaml(input.directorySync, result.plan));
  io.err(`# ${result.apiCalls} IdP API call(s)`);
  return 0;
}
