import test from 'ava';
import { dhcidFor, dhcidIdentityV4, dhcidRdataFor } from '../../lib/dns/dhcid.ts';

const hex = (s: string) => Buffer.from(s.replaceAll(':', ''), 'hex');

// RFC 4701 §3.6: the three examples, one per identifier type.
test('RFC 4701 §3.6.1: DUID', (t) => {
  const duid = hex('00:01:00:06:41:2d:f1:66:01:02:03:04:05:06');
  t.is(dhcidFor({ kind: 'duid', duid }, 'chi6.example.com'), 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=');
});

test('RFC 4701 §3.6.2: client identifier option', (t) => {
  const clientId = hex('01:07:08:09:0a:0b:0c');
  t.is(dhcidFor({ kind: 'client-id', clientId }, 'chi.example.com'), 'AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=');
});

test('RFC 4701 §3.6.3: htype and chaddr', (t) => {
  const chaddr = hex('01:02:03:04:05:06');
  t.is(dhcidFor({ kind: 'chaddr', htype: 1, chaddr }, 'client.example.com'), 'AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=');
});

test('RDATA layout: type code, digest type 1, 32-byte SHA-256', (t) => {
  const rdata = dhcidRdataFor({ kind: 'client-id', clientId: hex('01:07:08:09:0a:0b:0c') }, 'chi.example.com');
  t.is(rdata.length, 35);
  t.is(rdata.readUInt16BE(0), 1);
  t.is(rdata[2], 1);
});

test('the FQDN is hashed in canonical form: case and the root dot do not matter (RFC 4701 §3.5)', (t) => {
  const id = { kind: 'chaddr', htype: 1, chaddr: hex('01:02:03:04:05:06') } as const;
  const expected = 'AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=';
  t.is(dhcidFor(id, 'Client.EXAMPLE.com'), expected);
  t.is(dhcidFor(id, 'client.example.com.'), expected);
  // Only US-ASCII letters fold: other octets hash as they are.
  t.not(dhcidFor(id, 'client\u00c8.example.com'), dhcidFor(id, 'client\u00e8.example.com'));
  t.is(dhcidFor(id, 'client\\200.example.com'), dhcidFor(id, 'client\u00c8.example.com'));
});

test('another client or another name gives another DHCID', (t) => {
  const a = dhcidIdentityV4(undefined, 1, '02:42:c6:12:00:0b');
  const b = dhcidIdentityV4(undefined, 1, '02:42:c6:12:00:0c');
  t.not(dhcidFor(a, 'h.lab.leasehold.test'), dhcidFor(b, 'h.lab.leasehold.test'));
  t.not(dhcidFor(a, 'h.lab.leasehold.test'), dhcidFor(a, 'g.lab.leasehold.test'));
});

test('a lease gives option 61 when it has one, else htype + chaddr', (t) => {
  t.deepEqual(dhcidIdentityV4('010708090a0b0c', 1, '02:42:c6:12:00:0b'), {
    kind: 'client-id',
    clientId: hex('01:07:08:09:0a:0b:0c'),
  });
  t.deepEqual(dhcidIdentityV4(undefined, 1, '01:02:03:04:05:06'), { kind: 'chaddr', htype: 1, chaddr: hex('01:02:03:04:05:06') });
  t.is(
    dhcidFor(dhcidIdentityV4('010708090a0b0c', 1, '02:42:c6:12:00:0b'), 'chi.example.com'),
    'AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=',
  );
  t.is(
    dhcidFor(dhcidIdentityV4(undefined, 1, '01:02:03:04:05:06'), 'client.example.com'),
    'AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=',
  );
});
