import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { FakeClock, flushPromises } from '../../../src/runtime/clock.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { type ProcessLike, Shutdown } from '../../../src/runtime/shutdown.js';

class FakeProcess extends EventEmitter implements ProcessLike {
  readonly exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
}

describe('runtime/shutdown', () => {
  let clock: FakeClock;
  let proc: FakeProcess;
  let shutdown: Shutdown;
  let order: string[];

  beforeEach(() => {
    clock = new FakeClock(0);
    proc = new FakeProcess();
    shutdown = new Shutdown({ clock, process: proc, logger: silentLogger(), timeoutMs: 10_000 });
    order = [];
  });

  it('on SIGTERM runs hooks in reverse order, awaiting each, then exits 0', async () => {
    shutdown.register('http server', () => order.push('http'));
    shutdown.register('leader election', async () => {
      await Promise.resolve();
      order.push('leader');
    });
    shutdown.register('workers', async () => {
      await clock.advanceAsync(0);
      order.push('workers');
    });
    shutdown.install();
    proc.emit('SIGTERM');
    await clock.advanceAsync(0);
    await flushPromises();
    expect(order).to.deep.equal(['workers', 'leader', 'http']);
    expect(proc.exits).to.deep.equal([0]);
  });

  it('handles SIGINT too', async () => {
    shutdown.register('x', () => order.push('x'));
    shutdown.install();
    proc.emit('SIGINT');
    await flushPromises();
    expect(order).to.deep.equal(['x']);
    expect(proc.exits).to.deep.equal([0]);
  });

  it('keeps going after a failing hook and exits 1', async () => {
    shutdown.register('first', () => order.push('first'));
    shutdown.register('broken', () => {
      throw new Error('boom');
    });
    shutdown.install();
    proc.emit('SIGTERM');
    await flushPromises();
    expect(order).to.deep.equal(['first']);
    expect(proc.exits).to.deep.equal([1]);
  });

  it('exits 1 when the hooks overrun the deadline', async () => {
    shutdown.register('stuck', () => new Promise(() => undefined));
    shutdown.install();
    proc.emit('SIGTERM');
    await clock.advanceAsync(9_999);
    expect(proc.exits).to.deep.equal([]);
    await clock.advanceAsync(1);
    expect(proc.exits).to.deep.equal([1]);
  });

  it('a second signal exits at once', async () => {
    shutdown.register('slow', () => new Promise(() => undefined));
    shutdown.install();
    proc.emit('SIGTERM');
    await flushPromises();
    proc.emit('SIGINT');
    expect(proc.exits).to.deep.equal([130]);
  });

  it('runs the hooks only once however often it is asked', async () => {
    let runs = 0;
    shutdown.register('count', () => runs++);
    const [a, b] = await Promise.all([shutdown.run('one'), shutdown.run('two')]);
    expect([a, b, runs]).to.deep.equal([0, 0, 1]);
  });

  it('uninstall removes its signal listeners', () => {
    shutdown.install();
    expect(proc.listenerCount('SIGTERM')).to.equal(1);
    shutdown.uninstall();
    expect(proc.listenerCount('SIGTERM')).to.equal(0);
    expect(proc.listenerCount('SIGINT')).to.equal(0);
  });
});
