import { expect } from 'chai';
import { Controller, TerminalError } from '../../../src/runtime/controller.js';
import { TransientError } from '../../../src/errors.js';

const quiet = { error() {}, warn() {}, debug() {} };

/** Runs one reconcile of "ns/a" through a Controller and reports what it asked of its queue. */
async function outcomeOf(result: () => Promise<{ requeueAfterMs?: number } | void>) {
  const controller = new Controller({ name: `test-${Math.random()}`, workers: 1, logger: quiet, reconcile: result });
  const queue = controller.queue as unknown as Record<string, (...args: unknown[]) => unknown>;
  const calls: string[] = [];
  for (const method of ['addAfter', 'addRateLimited', 'forget'] as const) {
    const original = queue[method].bind(queue);
    queue[method] = (...args: unknown[]) => {
      calls.push(`${method}${args.length > 1 ? ` ${String(args[1])}` : ''}`);
      return original(...args);
    };
  }
  controller.start();
  controller.enqueue('ns/a');
  await new Promise((r) => setTimeout(r, 20));
  await controller.stop();
  return calls;
}

describe('runtime/controller: what a reconcile result means for the queue', () => {
  const cases: { name: string; reconcile: () => Promise<{ requeueAfterMs?: number } | void>; calls: string[] }[] = [
    { name: 'success with requeueAfterMs: forget, come back then', reconcile: async () => ({ requeueAfterMs: 300_000 }), calls: ['forget', 'addAfter 300000'] },
    { name: 'success without: forget, wait for an event', reconcile: async () => undefined, calls: ['forget'] },
    { name: 'a TerminalError: forget, no retry', reconcile: async () => Promise.reject(new TerminalError('bad spec')), calls: ['forget'] },
    {
      name: 'an error that says when to retry: come back then, at least a second',
      reconcile: async () => Promise.reject(new TransientError('RateLimited', 'slow down', { retryAfterMs: 10 })),
      calls: ['addAfter 1000'],
    },
    { name: 'any other error: exponential backoff from 750 ms', reconcile: async () => Promise.reject(new Error('boom')), calls: ['addRateLimited', 'addAfter 750'] },
  ];
  for (const tc of cases) {
    it(tc.name, async () => {
      expect(await outcomeOf(tc.reconcile)).to.deep.equal(tc.calls);
    });
  }
});
