import { expect } from 'chai';
import { addressKind, portCovered, resourceCovers } from '../../../src/access/address.js';

describe('resourceCovers', () => {
  describe('IP addresses and CIDRs', () => {
    it('covers an IPv4 address by an equal address or a containing CIDR', () => {
      expect(resourceCovers('10.0.0.5', '10.0.0.5')).to.equal(true);
      expect(resourceCovers('10.0.0.0/8', '10.200.3.4')).to.equal(true);
      expect(resourceCovers('10.0.0.0/24', '10.0.1.1')).to.equal(false);
      expect(resourceCovers('10.0.0.5', '10.0.0.6')).to.equal(false);
      expect(resourceCovers('0.0.0.0/0', '203.0.113.9')).to.equal(true);
    });

    it('covers an IPv6 address by an equal address in any spelling or a containing CIDR', () => {
      expect(resourceCovers('fd00::/8', 'fd12:3456::1')).to.equal(true);
      expect(resourceCovers('fd00::/8', 'fe80::1')).to.equal(false);
      expect(resourceCovers('::1', '0:0:0:0:0:0:0:1')).to.equal(true);
      expect(resourceCovers('2001:db8::/32', '2001:db9::1')).to.equal(false);
    });

    it('does not mix families, except an IPv4-mapped IPv6 address against IPv4 resources', () => {
      expect(resourceCovers('10.0.0.0/8', 'fd00::1')).to.equal(false);
      expect(resourceCovers('fd00::/8', '10.0.0.1')).to.equal(false);
      expect(resourceCovers('10.0.0.0/8', '::ffff:10.1.2.3')).to.equal(true);
      expect(resourceCovers('10.0.0.0/8', '::ffff:11.1.2.3')).to.equal(false);
    });

    it('covers a CIDR by an equal or larger containing CIDR only', () => {
      expect(resourceCovers('10.20.0.0/16', '10.20.0.0/16')).to.equal(true);
      expect(resourceCovers('10.0.0.0/8', '10.20.0.0/16')).to.equal(true);
      expect(resourceCovers('10.20.0.0/16', '10.0.0.0/8')).to.equal(false);
      expect(resourceCovers('10.20.0.0/16', '10.21.0.0/16')).to.equal(false);
      expect(resourceCovers('fd00::/8', 'fd00:1::/32')).to.equal(true);
      expect(resourceCovers('fd00:1::/32', 'fd00::/8')).to.equal(false);
      expect(resourceCovers('10.0.0.0/8', 'fd00::/8')).to.equal(false);
    });

    it('covers a CIDR query by a single address only when the query is that one address', () => {
      expect(resourceCovers('10.0.0.5', '10.0.0.5/32')).to.equal(true);
      expect(resourceCovers('10.0.0.5', '10.0.0.0/24')).to.equal(false);
    });

    it('never matches an IP against a DNS name, nor a malformed prefix', () => {
      expect(resourceCovers('db.internal', '10.0.0.1')).to.equal(false);
      expect(resourceCovers('10.0.0.1', 'db.internal')).to.equal(false);
      expect(resourceCovers('10.0.0.0/33', '10.0.0.1')).to.equal(false);
    });
  });

  describe('DNS names', () => {
    it('covers an equal name ignoring case and a trailing dot', () => {
      expect(resourceCovers('db.internal', 'db.internal')).to.equal(true);
      expect(resourceCovers('db.internal', 'DB.Internal.')).to.equal(true);
      expect(resourceCovers('db.internal', 'db2.internal')).to.equal(false);
      expect(resourceCovers('db.internal', 'a.db.internal')).to.equal(false);
    });

    it('covers names with at least one more label under a wildcard, not the bare domain', () => {
      expect(resourceCovers('*.example.com', 'a.example.com')).to.equal(true);
      expect(resourceCovers('*.example.com', 'a.b.example.com')).to.equal(true);
      expect(resourceCovers('*.example.com', 'A.EXAMPLE.COM.')).to.equal(true);
      expect(resourceCovers('*.example.com', 'example.com')).to.equal(false);
      expect(resourceCovers('*.example.com', 'badexample.com')).to.equal(false);
      expect(resourceCovers('*.example.com', 'a.example.org')).to.equal(false);
    });

    it('covers a wildcard query by an equal or broader wildcard only', () => {
      expect(resourceCovers('*.example.com', '*.example.com')).to.equal(true);
      expect(resourceCovers('*.example.com', '*.a.example.com')).to.equal(true);
      expect(resourceCovers('*.a.example.com', '*.example.com')).to.equal(false);
      expect(resourceCovers('a.example.com', '*.example.com')).to.equal(false);
    });
  });
});

describe('addressKind', () => {
  it('tells IPs, CIDRs, names and wildcards apart and rejects the rest', () => {
    expect(['10.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8', 'db.internal', 'Db.Internal.', '*.internal'].map(addressKind)).to.deep.equal([
      'ip',
      'ip',
      'cidr',
      'cidr',
      'dns',
      'dns',
      'wildcard',
    ]);
    for (const bad of ['10.0.0.256', '10.0.0.0/33', 'db server', 'db.*.internal', '', '*.']) expect(addressKind(bad), bad).to.equal(undefined);
  });
});

describe('portCovered', () => {
  const web = { address: 'x', ports: ['443', '8000-8100'], protocols: ['TCP'] };

  it('covers a single port and every port of an inclusive range', () => {
    expect(portCovered(web, 443, 'TCP')).to.equal(true);
    expect(portCovered(web, 8000, 'TCP')).to.equal(true);
    expect(portCovered(web, 8100, 'tcp')).to.equal(true);
    expect(portCovered(web, 8101, 'TCP')).to.equal(false);
    expect(portCovered(web, 444, 'TCP')).to.equal(false);
    expect(portCovered(web, 443, 'UDP')).to.equal(false);
  });

  it('reads empty ports as every port and empty protocols as every protocol', () => {
    expect(portCovered({ address: 'x' }, 22, 'TCP')).to.equal(true);
    expect(portCovered({ address: 'x', ports: [], protocols: [] }, 53, 'UDP')).to.equal(true);
    expect(portCovered({ address: 'x', ports: ['53'] }, 53, 'UDP')).to.equal(true);
    expect(portCovered({ address: 'x', ports: ['53'] }, 54)).to.equal(false);
  });

  it('answers "any port" and "any protocol" when the query leaves them out', () => {
    expect(portCovered(web)).to.equal(true);
    expect(portCovered(web, undefined, 'TCP')).to.equal(true);
    expect(portCovered(web, undefined, 'UDP')).to.equal(false);
    expect(portCovered(web, 443)).to.equal(true);
  });

  it('treats ICMP as portless', () => {
    const ping = { address: 'x', protocols: ['ICMP'] };
    expect(portCovered(ping, undefined, 'ICMP')).to.equal(true);
    expect(portCovered(ping)).to.equal(true);
    expect(portCovered(ping, 443)).to.equal(false, 'a port means TCP or UDP traffic');
    expect(portCovered(ping, undefined, 'TCP')).to.equal(false);
    expect(portCovered({ address: 'x' }, undefined, 'ICMP')).to.equal(true);
    expect(portCovered({ address: 'x', ports: ['443'] }, undefined, 'ICMP')).to.equal(false, 'a port list only lets TCP and UDP through');
  });

  it('covers nothing for a protocol it does not know', () => {
    expect(portCovered({ address: 'x' }, undefined, 'SCTP')).to.equal(false);
  });
});
