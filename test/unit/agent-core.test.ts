import test from 'ava';
import fc from 'fast-check';
import { followsScheme, generateMac, checkUserMac, parseMac } from '../../agent/core/mac.ts';
import { clientFqdn, clientIdHex, containerNetnsName, dhcpHostname, hostVethName, stateKey, checkAppLabel } from '../../agent/core/target.ts';
import { parseLeaseFile, toInspectJson, parseAttachment, type Attachment } from '../../agent/core/attachment.ts';
import { planReconcile, restartDelayMs } from '../../agent/core/reconcile.ts';

const containerId = '4b94d0da2047' + 'a'.repeat(52);
const docker = { kind: 'docker' as const, id: containerId };

test('MAC scheme: XX:IP:IP:IP:YY:ZZ, XX unicast and locally administered (low bits 10)', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 3, maxLength: 3 }), fc.ipV4(), (bytes, ip) => {
      const mac = generateMac({ workerIpv4: ip, scheme: 'random', targetId: 'x', attempt: 0, randomBytes: bytes });
      const o = parseMac(mac);
      const ipOctets = ip.split('.').map(Number);
      return (o[0] & 3) === 2 && o[1] === ipOctets[1] && o[2] === ipOctets[2] && o[3] === ipOctets[3] && o[4] === bytes[1] && o[5] === bytes[2] && followsScheme(mac, ip);
    }),
  );
  // The seed's own example: worker 10.100.80.x → c6:64:50:63:…: octets 2–4 are the worker's last three.
  t.is(generateMac({ workerIpv4: '198.18.0.11', scheme: 'random', targetId: 'x', attempt: 0, randomBytes: Uint8Array.of(0xff, 0xab, 0xcd) }), 'fe:12:00:0b:ab:cd');
});

test('MAC scheme: stable is a function of the container id and attempt, random bytes ignored', (t) => {
  const a = generateMac({ workerIpv4: '198.18.0.11', scheme: 'stable', targetId: containerId, attempt: 0, randomBytes: Uint8Array.of(1, 2, 3) });
  const b = generateMac({ workerIpv4: '198.18.0.11', scheme: 'stable', targetId: containerId, attempt: 0, randomBytes: Uint8Array.of(9, 9, 9) });
  const next = generateMac({ workerIpv4: '198.18.0.11', scheme: 'stable', targetId: containerId, attempt: 1 });
  const other = generateMac({ workerIpv4: '198.18.0.11', scheme: 'stable', targetId: 'f' + containerId.slice(1), attempt: 0 });
  t.is(a, b);
  t.not(a, next);
  t.not(a, other);
  t.true(followsScheme(a, '198.18.0.11'));
  t.false(followsScheme(a, '198.18.0.12'));
  t.throws(() => generateMac({ workerIpv4: '198.18.0.11', scheme: 'random', targetId: 'x', attempt: 0 }));
  t.throws(() => generateMac({ workerIpv4: '198.18.0', scheme: 'stable', targetId: 'x', attempt: 0 }), { message: /not an IPv4/ });
});

test('--mac: unicast and non-zero only, clear messages', (t) => {
  t.is(checkUserMac('02:00:00:00:00:01'), undefined);
  t.regex(checkUserMac('03:00:00:00:00:01')!, /multicast/);
  t.regex(checkUserMac('00:00:00:00:00:00')!, /all-zero/);
  t.regex(checkUserMac('02:00:00:00:00')!, /not a MAC/);
  t.regex(checkUserMac('zz:00:00:00:00:01')!, /not a MAC/);
});

test('names derived from the target: veth ≤ 15 chars, netns, hostname, FQDN, client-id', (t) => {
  t.is(stateKey(docker), 'docker-4b94d0da2047');
  t.is(hostVethName(docker), 'lh4b94d0da2047');
  t.is(containerNetnsName(docker), 'lhc-4b94d0da2047');
  t.is(dhcpHostname(docker), '4b94d0da2047');
  t.is(clientFqdn(dhcpHostname(docker), 'web'), '4b94d0da2047.web');
  t.is(Buffer.from(clientIdHex(docker), 'hex').toString('latin1'), '\0leasehold:4b94d0da2047');
  const ns = { kind: 'netns' as const, id: 'A_Very_Long_Namespace_Name_Indeed' };
  t.true(hostVethName(ns).length <= 15);
  t.regex(hostVethName(ns), /^lh[0-9a-f]{12}$/);
  t.is(containerNetnsName(ns), ns.id);
  t.is(dhcpHostname(ns), 'a-very-long-namespace-name-indeed');
  t.is(dhcpHostname({ kind: 'netns', id: '__' }).length, 12);
  t.is(checkAppLabel('web'), undefined);
  t.regex(checkAppLabel('-web')!, /not a DNS label/);
  t.regex(checkAppLabel('a.b')!, /not a DNS label/);
});

const hookOutput = `event=bound
ip=198.18.1.7
mask=16
subnet=255.255.0.0
router=198.18.0.1 198.18.0.9
dns=198.18.0.2 198.18.0.3
domain=leasehold.test
search=lab.leasehold.test leasehold.test
serverid=198.18.0.1
lease=3600
bound_at=1800000000
`;

test('lease file from the hook: parsed; deconfig or no address means no lease', (t) => {
  const lease = parseLeaseFile(hookOutput)!;
  t.like(lease, { ip: '198.18.1.7', prefixLen: 16, router: '198.18.0.1', domain: 'leasehold.test', leaseSeconds: 3600, boundAt: 1800000000 });
  t.deepEqual(lease.dns, ['198.18.0.2', '198.18.0.3']);
  t.deepEqual(lease.search, ['lab.leasehold.test', 'leasehold.test']);
  t.is(parseLeaseFile(hookOutput.replace('mask=16', 'mask=').replace('255.255.0.0', '255.255.255.0'))!.prefixLen, 24);
  t.is(parseLeaseFile(hookOutput.replace('event=bound', 'event=deconfig')), undefined);
  t.is(parseLeaseFile('event=bound\nip=\n'), undefined);
  t.is(parseLeaseFile(''), undefined);
});

const record: Attachment = {
  version: 1, key: 'docker-4b94d0da2047', kind: 'docker', targetId: containerId, name: 'web1', netns: 'lhc-4b94d0da2047',
  ownsNetns: true, bridge: 'br0', bridgeNetns: 'lh-w1', hostVeth: 'lh4b94d0da2047', ifname: 'eth0', mac: 'c6:12:00:0b:3b:86',
  app: 'web', hostname: '4b94d0da2047', fqdn: '4b94d0da2047.web', clientIdHex: clientIdHex(docker), ipv6: 'slaac',
  client: { pid: 23384, startTicks: 99, restarts: 0 }, createdAt: '2026-11-28T00:00:00.000Z',
};

test('inspect JSON: the seed\'s fields plus IPv6, FQDN and lease expiry', (t) => {
  const json = toInspectJson(record, {
    lease: parseLeaseFile(hookOutput),
    globalIpv6: { address: 'fd00:198:18::c412:ff:fe0b:3b86', prefixLen: 64 },
    clientAlive: true,
  });
  t.deepEqual(json, {
    Container: '4b94d0da2047',
    Name: 'web1',
    NetworkSettings: {
      HWAddr: 'c6:12:00:0b:3b:86', Bridge: 'br0', IPAddress: '198.18.1.7', IPPrefixLen: 16, Gateway: '198.18.0.1',
      DNS: ['198.18.0.2', '198.18.0.3'], DHCP_PID: 23384, GlobalIPv6Address: 'fd00:198:18::c412:ff:fe0b:3b86',
      GlobalIPv6PrefixLen: 64, FQDN: '4b94d0da2047.web.leasehold.test', LeaseExpires: '2027-01-15T09:00:00.000Z',
      HostVeth: 'lh4b94d0da2047', Netns: 'lhc-4b94d0da2047',
    },
  });
  const bare = toInspectJson(record, { clientAlive: false });
  t.is(bare.NetworkSettings.IPAddress, '');
  t.is(bare.NetworkSettings.DHCP_PID, 0);
  t.is(bare.NetworkSettings.FQDN, '4b94d0da2047.web');
});

test('state records: round trip, and a broken one names the file and field', (t) => {
  t.deepEqual(parseAttachment(JSON.stringify(record), 'f.json'), record);
  t.throws(() => parseAttachment('{', 'f.json'), { message: /^f\.json: not JSON/ });
  t.throws(() => parseAttachment(JSON.stringify({ ...record, mac: 7 }), 'f.json'), { message: 'f.json: mac: missing or not a string' });
  t.throws(() => parseAttachment(JSON.stringify({ ...record, version: 2 }), 'f.json'), { message: /version/ });
});

const observed = (over: Partial<{ targetAlive: boolean; clientAlive: boolean; vethPresent: boolean }>, key = record.key) => ({
  attachment: { ...record, key },
  targetAlive: true, clientAlive: true, vethPresent: true, ...over,
});

test('reconcile plan: release the dead, restart dead clients with back-off, attach labelled strays', (t) => {
  const none = new Map();
  t.deepEqual(planReconcile({ observed: [observed({})], labelled: [], backoff: none, nowMs: 0 }), []);
  t.deepEqual(planReconcile({ observed: [observed({ targetAlive: false, clientAlive: false })], labelled: [], backoff: none, nowMs: 0 }), [
    { kind: 'release', key: record.key, reason: 'container gone' },
  ]);
  t.deepEqual(planReconcile({ observed: [observed({ vethPresent: false })], labelled: [], backoff: none, nowMs: 0 }), [
    { kind: 'release', key: record.key, reason: 'veth gone' },
  ]);
  t.deepEqual(planReconcile({ observed: [observed({ clientAlive: false })], labelled: [], backoff: none, nowMs: 0 }), [
    { kind: 'restart-client', key: record.key, reason: 'client not running' },
  ]);
  const backoff = new Map([[record.key, { failures: 2, lastAttemptMs: 10_000 }]]);
  t.deepEqual(planReconcile({ observed: [observed({ clientAlive: false })], labelled: [], backoff, nowMs: 13_000 }), [
    { kind: 'wait', key: record.key, untilMs: 14_000 },
  ]);
  t.is(planReconcile({ observed: [observed({ clientAlive: false })], labelled: [], backoff, nowMs: 14_000 })[0].kind, 'restart-client');
  t.deepEqual(
    planReconcile({ observed: [observed({})], labelled: [{ id: containerId, bridge: 'br0' }, { id: 'b'.repeat(64), bridge: 'br0' }], backoff: none, nowMs: 0 }),
    [{ kind: 'attach', containerId: 'b'.repeat(64), bridge: 'br0' }],
  );
  t.deepEqual([0, 1, 5, 6, 30].map(restartDelayMs), [1000, 2000, 32_000, 60_000, 60_000]);
});
