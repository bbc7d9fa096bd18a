import { expect } from 'chai';
import { UsageError } from '../../../src/cli/args.js';
import { LOG_LEVELS, parseRunArgs } from '../../../src/cli/run-flags.js';

describe('idpsync run flags', () => {
  it('has defaults that start an operator', () => {
    expect(parseRunArgs([], {})).to.deep.equal({
      kubeconfig: undefined,
      namespace: undefined,
      metricsAddress: '0.0.0.0:8080',
      leaderElect: false,
      leaderElectionNamespace: undefined,
      workers: 2,
      logLevel: 'info',
      fetchTimeoutMs: 600_000,
    });
  });

  it('reads every flag', () => {
    const flags = parseRunArgs(
      ['--kubeconfig', 'package.json', '--namespace=team-a', '--metrics-bind-address', ':9090', '--leader-elect', '--leader-election-namespace', 'idpsync-system', '--workers=8', '--log-level', 'debug', '--idp-read-timeout', '45m'],
      {},
    );
    expect(flags).to.deep.equal({
      kubeconfig: 'package.json',
      namespace: 'team-a',
      metricsAddress: ':9090',
      leaderElect: true,
      leaderElectionNamespace: 'idpsync-system',
      workers: 8,
      logLevel: 'debug',
      fetchTimeoutMs: 2_700_000,
    });
  });

  it('takes the log level from LOG_LEVEL unless the flag is given', () => {
    expect(parseRunArgs([], { LOG_LEVEL: 'warn' }).logLevel).to.equal('warn');
    expect(parseRunArgs(['--log-level=error'], { LOG_LEVEL: 'warn' }).logLevel).to.equal('error');
  });

  it('accepts each level the logger knows', () => {
    expect(LOG_LEVELS).to.include.members(['error', 'warn', 'info', 'debug']);
    for (const level of LOG_LEVELS) expect(parseRunArgs([`--log-level=${level}`], {}).logLevel).to.equal(level);
  });

  it('accepts the address forms it can listen on', () => {
    for (const address of ['0.0.0.0:8080', '127.0.0.1:0', ':8080', 'localhost:65535', 'metrics.example.com:80']) {
      expect(parseRunArgs(['--metrics-bind-address', address], {}).metricsAddress).to.equal(address);
    }
  });

  const refused: [string[], NodeJS.ProcessEnv, string][] = [
    [['--workers=abc'], {}, '--workers must be a whole number of at least 1, not "abc"'],
    [['--workers=0'], {}, '--workers must be a whole number of at least 1, not "0"'],
    [['--workers=-3'], {}, '--workers must be a whole number'],
    [['--workers=2.5'], {}, '--workers must be a whole number'],
    [['--workers='], {}, '--workers must be a whole number'],
    [['--log-level=trace'], {}, '--log-level must be one of error, warn, info, http, verbose, debug, silly; not "trace"'],
    [['--log-level=INFO'], {}, '--log-level must be one of'],
    [[], { LOG_LEVEL: 'trace' }, 'LOG_LEVEL (from the environment) must be one of'],
    [['--log-level=info'], { LOG_LEVEL: 'trace' }, 'LOG_LEVEL (from the environment) must be one of'],
    [['--metrics-bind-address=8080'], {}, '--metrics-bind-address must be HOST:PORT'],
    [['--metrics-bind-address=0.0.0.0:http'], {}, '--metrics-bind-address must be HOST:PORT'],
    [['--metrics-bind-address=0.0.0.0:70000'], {}, '--metrics-bind-address must be HOST:PORT'],
    [['--metrics-bind-address=bad host:80'], {}, '--metrics-bind-address must be HOST:PORT'],
    [['--metrics-bind-address=[::]:8080'], {}, '--metrics-bind-address must be HOST:PORT'],
    [['--namespace=Team_A'], {}, '--namespace must be a namespace name'],
    [['--leader-election-namespace='], {}, '--leader-election-namespace must be a namespace name'],
    [['--kubeconfig=/nonexistent/config'], {}, '--kubeconfig /nonexistent/config: no such file'],
    [['extra'], {}, 'unexpected argument extra'],
    [['--idp-read-timeout=10'], {}, '--idp-read-timeout must be a duration such as 90s, 10m or 1h30m, not "10"'],
    [['--idp-read-timeout=500ms'], {}, '--idp-read-timeout must be at least 1s'],
  ];
  for (const [args, env, message] of refused) {
    it(`refuses ${[...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ') || '(nothing)'}`, () => {
      expect(() => parseRunArgs(args, env)).to.throw(UsageError, message);
    });
  }
  describe('SCIM', () => {
    it('serves HTTPS with a certificate and key, or plain HTTP only when asked for by name', () => {
      expect(parseRunArgs(['--scim-bind-address', ':8443', '--scim-tls-cert-file', 'package.json', '--scim-tls-key-file', 'package.json'], {})).to.deep.include({
        scimAddress: ':8443',
        scimTls: { certFile: 'package.json', keyFile: 'package.json' },
      });
      expect(parseRunArgs(['--scim-bind-address', ':8080', '--scim-insecure-http'], {})).to.deep.include({ scimAddress: ':8080' });
      expect(parseRunArgs(['--scim-bind-address', ':8080', '--scim-insecure-http'], {})).to.not.have.property('scimTls');
    });

    it('takes a rate limit per directory token, with a burst of twice the rate unless given', () => {
      const serve = ['--scim-bind-address', ':8080', '--scim-insecure-http'];
      expect(parseRunArgs(serve, {})).to.not.have.property('scimLimits');
      expect(parseRunArgs([...serve, '--scim-rate-limit', '30'], {}).scimLimits).to.deep.equal({ ratePerSecond: 30, burst: 60 });
      expect(parseRunArgs([...serve, '--scim-rate-limit', '30', '--scim-rate-burst', '5'], {}).scimLimits).to.deep.equal({ ratePerSecond: 30, burst: 5 });
      expect(parseRunArgs([...serve, '--scim-rate-limit', '0'], {}).scimLimits).to.deep.equal({ ratePerSecond: 0, burst: 1 });
    });

    const refusals: [string[], RegExp][] = [
      [['--scim-bind-address', ':8443'], /needs --scim-tls-cert-file and --scim-tls-key-file .* or --scim-insecure-http/],
      [['--scim-bind-address', ':8443', '--scim-tls-cert-file', 'package.json'], /go together/],
      [['--scim-bind-address', ':8443', '--scim-tls-cert-file', 'nope.pem', '--scim-tls-key-file', 'package.json'], /--scim-tls-cert-file nope.pem: no such file/],
      [['--scim-tls-cert-file', 'package.json', '--scim-tls-key-file', 'package.json'], /need --scim-bind-address/],
      [['--scim-bind-address', ':8443', '--scim-insecure-http', '--scim-tls-cert-file', 'package.json', '--scim-tls-key-file', 'package.json'], /cannot be combined/],
      [['--scim-rate-limit', '10'], /need --scim-bind-address/],
      [['--scim-bind-address', ':8080', '--scim-insecure-http', '--scim-rate-limit', 'fast'], /--scim-rate-limit must be a whole number/],
      [['--scim-bind-address', ':8080', '--scim-insecure-http', '--scim-rate-burst', '0'], /--scim-rate-burst must be a whole number of at least 1/],
    ];
    for (const [args, message] of refusals) {
      it(`refuses ${args.join(' ')}`, () => {
        expect(() => parseRunArgs(args, {})).to.throw(UsageError, message);
      });
    }
  });
});
