import test, { type ExecutionContext } from 'ava';
import { RrType } from '../../lib/dns/dns-codes.ts';
import { queryMessage } from '../../lib/dns/dns-exchange.ts';
import type { Prerequisite, UpdateOp, UpdateRequest } from '../../lib/dns/update-request.ts';
import { STATIC_ADDRESS, startBind, type BindServer } from '../harness/bind.ts';
import { startDnsRunner, type DnsRunner } from '../harness/dns-runner.ts';
import { sweepAround, useSegment } from '../harness/fixture.ts';
import { pollUntil } from '../harness/poll.ts';

// Our UPDATE codec, TSIG and DNS client against BIND 9 (named -g) in a test
// namespace: what BIND accepts, refuses and stores is the reference.
//
//   [dns 198.18.0.2: named] ── lt-ddw segment ── [cli 198.18.0.10: DnsClient]

const PREFIX = 'lt-ddw';
sweepAround(test, PREFIX);

const DNS = '198.18.0.2';
const ZONE = 'leasehold.test';
const REVERSE4 = '18.198.in-addr.arpa';
const REVERSE6 = '0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa';
const DHCID = 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfzuVU4AkNaI=';
const OTHER_DHCID = 'AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=';

interface Lab {
  bind: BindServer;
  client: DnsRunner;
}

async function lab(t: ExecutionContext): Promise<Lab> {
  const segment = await useSegment(t, PREFIX);
  const [dns, cli] = await segment.addHosts([{ name: 'dns', ipv4: `${DNS}/16` }, { name: 'cli', ipv4: '198.18.0.10/16' }]);
  const bind = await startBind(dns, {
    extraKeys: [{ name: 'sha1-key', algorithm: 'hmac-sha1' }, { name: 'sha512-key', algorithm: 'hmac-sha512' }],
  });
  const client = await startDnsRunner(cli, { address: DNS });
  return { bind, client };
}

const add = (name: string, type: 'A' | 'AAAA' | 'PTR' | 'DHCID', data: string, ttl = 300): UpdateOp => ({ kind: 'add', name, ttl, record: { type, data } });

function request(zone: string, updates: UpdateOp[], prerequisites: Prerequisite[] = []): UpdateRequest {
  return { zone, prerequisites, updates };
}

test('A, DHCID, PTR and AAAA added with TSIG are what dig sees', async (t) => {
  const { bind, client } = await lab(t);
  const name = `web1.${ZONE}`;
  const transport = await client.update(request(ZONE, [add(name, 'A', '198.18.1.5'), add(name, 'AAAA', 'fd00:198:18::5'), add(name, 'DHCID', DHCID)],
    [{ kind: 'name-not-in-use', name }]), { key: bind.key });
  t.is(transport, 'udp');
  await client.update(request(REVERSE4, [add(`5.1.${REVERSE4}`, 'PTR', name), add(`5.1.${REVERSE4}`, 'DHCID', DHCID)]), { key: bind.key });
  const nibbles = `5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.${REVERSE6}`;
  await client.update(request(REVERSE6, [add(nibbles, 'PTR', name)]), { key: bind.key });

  t.deepEqual(await bind.dig(name, 'A'), ['198.18.1.5']);
  t.deepEqual(await bind.dig(name, 'AAAA'), ['fd00:198:18::5']);
  t.deepEqual(await bind.dig(name, 'DHCID'), [DHCID]);
  t.deepEqual(await bind.dig(`5.1.${REVERSE4}`, 'PTR'), [`${name}.`]);
  t.deepEqual(await bind.dig(`5.1.${REVERSE4}`, 'DHCID'), [DHCID]);
  t.deepEqual(await bind.dig(nibbles, 'PTR'), [`${name}.`]);
  // Our own query reads them back, typed.
  t.deepEqual(await client.query(name, RrType.DHCID), [
    { name, type: RrType.DHCID, class: 1, ttl: 300, rdata: { kind: 'dhcid', value: Buffer.from(DHCID, 'base64') } },
  ]);
  t.deepEqual((await client.query(`5.1.${REVERSE4}`, RrType.PTR, { key: bind.key })).map((rr) => rr.rdata), [{ kind: 'ptr', value: name }]);
  t.deepEqual(await bind.dig(`static.${ZONE}`, 'A'), [STATIC_ADDRESS], 'the static record is untouched');
});

// RFC 2136 §3.2.5: which RCODE each failed prerequisite gets.
const prerequisiteCases: Array<[string, Prerequisite, Prerequisite, string]> = [
  ['name-in-use (§2.4.4)', { kind: 'name-in-use', name: `static.${ZONE}` }, { kind: 'name-in-use', name: `absent.${ZONE}` }, 'E_DNS_NXDOMAIN'],
  ['name-not-in-use (§2.4.5)', { kind: 'name-not-in-use', name: `absent.${ZONE}` }, { kind: 'name-not-in-use', name: `static.${ZONE}` }, 'E_DNS_YXDOMAIN'],
  ['rrset-exists (§2.4.1)', { kind: 'rrset-exists', name: `static.${ZONE}`, type: 'A' }, { kind: 'rrset-exists', name: `static.${ZONE}`, type: 'AAAA' }, 'E_DNS_NXRRSET'],
  ['rrset-exists-value (§2.4.2)', { kind: 'rrset-exists-value', name: `static.${ZONE}`, record: { type: 'A', data: STATIC_ADDRESS } },
    { kind: 'rrset-exists-value', name: `static.${ZONE}`, record: { type: 'A', data: '198.18.0.98' } }, 'E_DNS_NXRRSET'],
  ['rrset-not-exists (§2.4.3)', { kind: 'rrset-not-exists', name: `static.${ZONE}`, type: 'AAAA' },
    { kind: 'rrset-not-exists', name: `static.${ZONE}`, type: 'A' }, 'E_DNS_YXRRSET'],
];

test('every prerequisite form passes and fails as BIND judges it, and a failed one changes nothing', async (t) => {
  const { bind, client } = await lab(t);
  for (const [i, [form, holds, fails, code]] of prerequisiteCases.entries()) {
    const marker = (outcome: string) => `p${i}-${outcome}.${ZONE}`;
    await client.update(request(ZONE, [add(marker('pass'), 'A', `198.18.9.${i}`)], [holds]), { key: bind.key });
    await t.throwsAsync(client.update(request(ZONE, [add(marker('fail'), 'A', `198.18.9.${i}`)], [fails]), { key: bind.key }), { code }, form);
    t.deepEqual(await bind.dig(marker('pass'), 'A'), [`198.18.9.${i}`], `${form}: the update ran`);
    t.deepEqual(await bind.dig(marker('fail'), 'A'), [], `${form}: the update did not run`);
  }
  // All prerequisites must hold (§3.2): one failing stops the whole request.
  await t.throwsAsync(client.update(request(ZONE, [add(`both.${ZONE}`, 'A', '198.18.9.99')], [prerequisiteCases[0][1], prerequisiteCases[1][2]]), { key: bind.key }),
    { code: 'E_DNS_YXDOMAIN' });
  t.deepEqual(await bind.dig(`both.${ZONE}`, 'A'), []);
});

test('the DHCID guard of RFC 4703 §5.3: the owner updates its name, another client cannot', async (t) => {
  const { bind, client } = await lab(t);
  const name = `guarded.${ZONE}`;
  await client.update(request(ZONE, [add(name, 'A', '198.18.1.10'), add(name, 'DHCID', DHCID)], [{ kind: 'name-not-in-use', name }]), { key: bind.key });
  const replaceA = (dhcid: string) => request(ZONE, [{ kind: 'delete-rrset', name, type: 'A' }, add(name, 'A', '198.18.1.11')],
    [{ kind: 'rrset-exists-value', name, record: { type: 'DHCID', data: dhcid } }]);
  await t.throwsAsync(client.update(replaceA(OTHER_DHCID), { key: bind.key }), { code: 'E_DNS_NXRRSET' });
  t.deepEqual(await bind.dig(name, 'A'), ['198.18.1.10']);
  await client.update(replaceA(DHCID), { key: bind.key });
  t.deepEqual(await bind.dig(name, 'A'), ['198.18.1.11']);
});

test('delete-record, delete-rrset and delete-name remove exactly what they name', async (t) => {
  const { bind, client } = await lab(t);
  const name = `del.${ZONE}`;
  await client.update(request(ZONE, [add(name, 'A', '198.18.2.1'), add(name, 'A', '198.18.2.2'), add(name, 'AAAA', 'fd00:198:18::21'), add(name, 'DHCID', DHCID)]), { key: bind.key });
  t.deepEqual((await bind.dig(name, 'A')).sort(), ['198.18.2.1', '198.18.2.2']);

  await client.update(request(ZONE, [{ kind: 'delete-record', name, record: { type: 'A', data: '198.18.2.1' } }]), { key: bind.key });
  t.deepEqual(await bind.dig(name, 'A'), ['198.18.2.2'], '§2.5.4: only that record');
  t.deepEqual(await bind.dig(name, 'AAAA'), ['fd00:198:18::21']);

  await client.update(request(ZONE, [{ kind: 'delete-rrset', name, type: 'AAAA' }]), { key: bind.key });
  t.deepEqual(await bind.dig(name, 'AAAA'), [], '§2.5.2: the whole RRset');
  t.deepEqual(await bind.dig(name, 'A'), ['198.18.2.2']);
  t.deepEqual(await bind.dig(name, 'DHCID'), [DHCID]);

  await client.update(request(ZONE, [{ kind: 'delete-name', name }]), { key: bind.key });
  for (const type of ['A', 'AAAA', 'DHCID']) t.deepEqual(await bind.dig(name, type), [], `§2.5.3: ${type} gone`);
  await t.throwsAsync(client.query(name, RrType.A), { code: 'E_DNS_NXDOMAIN' });
  t.deepEqual(await bind.dig(`static.${ZONE}`, 'A'), [STATIC_ADDRESS], 'neighbours untouched');
});

test('a wrong key is a clear TSIG error and changes nothing', async (t) => {
  const { bind, client } = await lab(t);
  const change = request(ZONE, [add(`intruder.${ZONE}`, 'A', '198.18.6.6')]);
  // BIND answers NOTAUTH with the TSIG error in an unsigned record (RFC 8945
  // §5.3.2); the client waits out the try for a signed answer, then says so.
  const wrongSecret = await t.throwsAsync(client.update(change, { key: { ...bind.key, secret: Buffer.alloc(32, 1) }, timeoutMs: 500 }));
  t.like(wrongSecret, { code: 'E_TSIG_BADSIG', fields: { reportedBy: 'server', authenticated: false } });
  const unknownKey = await t.throwsAsync(client.update(change, { key: { ...bind.key, name: 'no-such-key' }, timeoutMs: 500 }));
  t.like(unknownKey, { code: 'E_TSIG_BADKEY', fields: { reportedBy: 'server' } });
  const wrongAlgorithm = await t.throwsAsync(client.update(change, { key: { ...bind.key, algorithm: 'hmac-sha512' }, timeoutMs: 500 }));
  t.like(wrongAlgorithm, { code: 'E_TSIG_BADKEY' });
  // Unsigned: allow-update wants a key.
  await t.throwsAsync(client.update(change), { code: 'E_DNS_REFUSED' });
  t.deepEqual(await bind.dig(`intruder.${ZONE}`, 'A'), []);
});

test('a client clock an hour off gets BADTIME with the server\'s time', async (t) => {
  const { bind, client } = await lab(t);
  const started = Date.now();
  const err = await t.throwsAsync(client.update(request(ZONE, [add(`late.${ZONE}`, 'A', '198.18.6.7')]), { key: bind.key, clockOffsetMs: 3_600_000, timeoutMs: 5000 }));
  t.like(err, { code: 'E_TSIG_BADTIME', fields: { reportedBy: 'server', authenticated: true } });
  // A signed BADTIME answer is the server's word: no waiting out the try for another.
  t.true(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
  const serverTime = (err as unknown as { fields: { serverTime: number } }).fields.serverTime;
  t.true(Math.abs(serverTime - Date.now() / 1000) < 60, `server time ${serverTime}`);
  t.deepEqual(await bind.dig(`late.${ZONE}`, 'A'), []);
});

test('hmac-sha1 and hmac-sha512 keys sign updates and queries too', async (t) => {
  const { bind, client } = await lab(t);
  for (const key of bind.keys.slice(1)) {
    const name = `${key.algorithm}.${ZONE}`;
    await client.update(request(ZONE, [add(name, 'A', '198.18.3.1')], [{ kind: 'name-not-in-use', name }]), { key });
    t.deepEqual((await client.query(name, RrType.A, { key })).map((rr) => rr.rdata), [{ kind: 'a', value: '198.18.3.1' }], key.algorithm);
    t.deepEqual(await bind.dig(name, 'A'), ['198.18.3.1'], key.algorithm);
  }
});

test('over 512 bytes: the update goes over TCP, the truncated UDP answer is asked again over TCP', async (t) => {
  const { bind, client } = await lab(t);
  const name = `big.${ZONE}`;
  const addresses = Array.from({ length: 60 }, (_, i) => `198.18.4.${i + 1}`);
  const transport = await client.update(request(ZONE, addresses.map((a) => add(name, 'A', a))), { key: bind.key });
  t.is(transport, 'tcp', 'a request over 512 bytes is sent over TCP (RFC 1035 §4.2.1)');
  // 60 A records do not fit in 512 bytes: named sets TC over UDP (RFC 2181 §9).
  const { transport: queryTransport, answers } = await client.exchange(queryMessage(0, name, RrType.A), { key: bind.key });
  t.is(queryTransport, 'tcp');
  t.deepEqual(answers.map((rr) => rr.rdata.kind === 'a' && rr.rdata.value).sort(), [...addresses].sort());
  t.is((await client.query(name, RrType.A)).length, 60);
  t.is((await bind.dig(name, 'A', { tcp: true })).length, 60);
});

test('no answer: a stopped server times out after the retries; one that wakes up answers a retry', async (t) => {
  const { bind, client } = await lab(t);
  const named = bind.process;
  named.signal('SIGSTOP');
  t.teardown(() => named.signal('SIGCONT'));
  await named.waitStopped();
  const started = Date.now();
  const err = await t.throwsAsync(client.query(`static.${ZONE}`, RrType.A, { timeoutMs: 300, attempts: 3 }), { code: 'E_DNS_TIMEOUT' });
  t.regex(err?.message ?? '', /after 3 UDP tries of 300 ms/);
  t.true(Date.now() - started >= 900);
  // Woken during the second try, named answers the queued and the retried query alike.
  const pending = client.query(`static.${ZONE}`, RrType.A, { timeoutMs: 1000, attempts: 3 });
  await new Promise((resolve) => setTimeout(resolve, 1200));
  named.signal('SIGCONT');
  t.deepEqual((await pending).map((rr) => rr.rdata), [{ kind: 'a', value: STATIC_ADDRESS }]);
});

test('a server that is down is unreachable at once; records survive a restart (journal)', async (t) => {
  const { bind, client } = await lab(t);
  await client.update(request(ZONE, [add(`kept.${ZONE}`, 'A', '198.18.5.1')]), { key: bind.key });
  await bind.stop();
  await t.throwsAsync(client.query(`kept.${ZONE}`, RrType.A, { timeoutMs: 2000 }), { code: 'E_DNS_UNREACHABLE' });
  await bind.start();
  await pollUntil('kept record served after restart', async () => (await bind.dig(`kept.${ZONE}`, 'A')).length > 0, { timeoutMs: 5000 });
  t.deepEqual((await client.query(`kept.${ZONE}`, RrType.A)).map((rr) => rr.rdata), [{ kind: 'a', value: '198.18.5.1' }]);
  await bind.kill();
  await bind.start();
  t.deepEqual(await bind.dig(`kept.${ZONE}`, 'A'), ['198.18.5.1'], 'the journal outlives SIGKILL');
});
