import { expect } from 'chai';
import { directorySource, isCloudEvent, newCloudEvent } from '../../../src/notify/cloudevent.js';

describe('notify/cloudevent', () => {
  const now = new Date('2025-03-04T05:06:07.000Z');

  it('names the DirectorySync by its API path as the source', () => {
    expect(directorySource('team-a', 'corp')).to.equal('/apis/idpsync.io/v1alpha1/namespaces/team-a/directorysyncs/corp');
  });

  it('builds a CloudEvents 1.0 envelope in JSON', () => {
    const event = newCloudEvent({
      source: directorySource('team-a', 'corp'),
      type: 'io.idpsync.user.suspended',
      subject: 'alice',
      data: { user: 'alice' },
      now,
      id: 'fixed-id',
    });
    expect(event).to.deep.equal({
      specversion: '1.0',
      id: 'fixed-id',
      source: '/apis/idpsync.io/v1alpha1/namespaces/team-a/directorysyncs/corp',
      type: 'io.idpsync.user.suspended',
      subject: 'alice',
      time: '2025-03-04T05:06:07.000Z',
      datacontenttype: 'application/json',
      data: { user: 'alice' },
    });
    expect(isCloudEvent(JSON.parse(JSON.stringify(event)))).to.equal(true);
  });

  it('gives each event a fresh UUID and leaves out an absent subject', () => {
    const a = newCloudEvent({ source: 's', type: 'io.idpsync.user.deleted', data: {}, now });
    const b = newCloudEvent({ source: 's', type: 'io.idpsync.user.deleted', data: {}, now });
    expect(a.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.id).to.not.equal(b.id);
    expect(a).to.not.have.property('subject');
  });

  it('does not take an unknown type for one of ours', () => {
    const event = newCloudEvent({ source: 's', type: 'io.idpsync.user.deleted', data: {}, now });
    expect(isCloudEvent({ ...event, type: 'io.idpsync.user.restored' })).to.equal(false);
    expect(isCloudEvent({ ...event, specversion: '0.3' })).to.equal(false);
  });
});
