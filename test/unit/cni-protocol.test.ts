// The CNI plugin's pure half (agent/cni/cni-protocol.ts, agent/core/cni-attachment.ts):
// the environment and config checks, version rules, the result and error
// JSON per version, CHECK's comparison and GC's diff, and the names a CNI
// attachment gets (agent/core/target.ts). No root, no agent.
import test from 'ava';
import {
  addRequest,
  addResult,
  checkCommandVersion,
  checkExpectation,
  CniError,
  configVersion,
  errorJson,
  parseCniArgs,
  parseConfig,
  parseEnvironment,
  parseStdin,
  podIdentity,
  staleAttachments,
  versionAtLeast,
  versionResult,
} from '../../agent/cni/cni-protocol.ts';
import { cniCheckProblems, cniKeyOf, type CniAttachment } from '../../agent/core/cni-attachment.ts';
import type { Attachment } from '../../agent/core/attachment.ts';
import { clientIdHex, cniTargetId, cniTargetParts, containerNetnsName, dhcpHostname, hostVethName, stateKey } from '../../agent/core/target.ts';

const ADD_ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee01', CNI_NETNS: '/var/run/netns/cni-1', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
const CONFIG = { cniVersion: '1.1.0', name: 'lhnet', type: 'leasehold', bridge: 'br0' };

function cniError(t: import('ava').ExecutionContext, fn: () => unknown, code: number, msg: RegExp): void {
  const err = t.throws(fn, { instanceOf: CniError });
  t.is(err?.code, code);
  t.regex(err?.message ?? '', msg);
}

// ---------------------------------------------------------------------------
// Environment

test('environment: ADD with every variable', (t) => {
  t.deepEqual(parseEnvironment({ ...ADD_ENV, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-0' }), {
    command: 'ADD', containerId: 'c0ffee01', netns: '/var/run/netns/cni-1', ifname: 'eth0', args: { IgnoreUnknown: '1', K8S_POD_NAME: 'web-0' },
  });
});

test('environment: DEL needs no CNI_NETNS; STATUS, GC and VERSION need only CNI_COMMAND', (t) => {
  t.is(parseEnvironment({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0' }).netns, undefined);
  for (const command of ['STATUS', 'GC', 'VERSION'] as const) t.is(parseEnvironment({ CNI_COMMAND: command }).command, command);
});

for (const [what, env, msg] of [
  ['no CNI_COMMAND', {}, /^CNI_COMMAND is not set$/],
  ['an unknown command', { CNI_COMMAND: 'UPDATE' }, /^CNI_COMMAND "UPDATE" is not one of ADD, DEL, CHECK, GC, STATUS, VERSION$/],
  ['ADD without netns and ifname', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1' }, /^ADD needs CNI_NETNS, CNI_IFNAME: not set$/],
  ['CHECK without a container id', { CNI_COMMAND: 'CHECK', CNI_NETNS: '/n', CNI_IFNAME: 'eth0' }, /^CHECK needs CNI_CONTAINERID: not set$/],
  ['a container id starting with a dash', { ...ADD_ENV, CNI_CONTAINERID: '-x' }, /^CNI_CONTAINERID "-x": must start with a letter or digit/],
  ['a container id with a slash', { ...ADD_ENV, CNI_CONTAINERID: 'a/b' }, /^CNI_CONTAINERID "a\/b"/],
  ['an ifname of 16 characters', { ...ADD_ENV, CNI_IFNAME: 'e'.repeat(16) }, /^CNI_IFNAME "e{16}": longer than 15 characters$/],
  ['an ifname with a colon', { ...ADD_ENV, CNI_IFNAME: 'eth0:1' }, /^CNI_IFNAME "eth0:1": contains \/ : or white space$/],
  ['an ifname ..', { ...ADD_ENV, CNI_IFNAME: '..' }, /^CNI_IFNAME "\.\.": not a valid interface name$/],
  ['a relative netns', { ...ADD_ENV, CNI_NETNS: 'netns/x' }, /^CNI_NETNS "netns\/x": not an absolute path$/],
  ['CNI_ARGS without =', { ...ADD_ENV, CNI_ARGS: 'K8S_POD_NAME=a;junk' }, /^CNI_ARGS: "junk" is not KEY=VALUE$/],
] as const) {
  test(`environment: ${what} is code 4, naming the variable`, (t) => {
    cniError(t, () => parseEnvironment(env), 4, msg);
  });
}

test('CNI_ARGS: empty pairs are skipped, values may hold =', (t) => {
  t.deepEqual(parseCniArgs(''), {});
  t.deepEqual(parseCniArgs('A=1;;B=x=y;'), { A: '1', B: 'x=y' });
});

test('Kubernetes CNI_ARGS: the pod name is the DHCP hostname, its namespace the app, unless the config names an app', (t) => {
  const env = parseEnvironment({ ...ADD_ENV, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=Shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee01' });
  t.deepEqual(podIdentity(env.args), { hostname: 'web-0', namespace: 'shop' });
  const req = addRequest(parseConfig(CONFIG), env);
  t.is(req.hostname, 'web-0');
  t.is(req.app, 'shop');
  t.is(addRequest(parseConfig({ ...CONFIG, app: 'frontend' }), env).app, 'frontend');
  const plain = addRequest(parseConfig(CONFIG), parseEnvironment(ADD_ENV));
  t.is(plain.hostname, undefined);
  t.is(plain.app, undefined);
});

test('Kubernetes CNI_ARGS: a pod name longer than 63 is cut to 63 with trailing hyphens trimmed, as the kubelet cuts its hostname', (t) => {
  const long = `${'w'.repeat(62)}-x${'y'.repeat(10)}`;
  t.deepEqual(podIdentity({ K8S_POD_NAME: long }), { hostname: 'w'.repeat(62) });
  t.deepEqual(podIdentity({ K8S_POD_NAME: 'W'.repeat(70) }), { hostname: 'w'.repeat(63) });
});

for (const value of ['web.0', 'api.v1.shop', '-web', 'web_0']) {
  test(`Kubernetes CNI_ARGS: K8S_POD_NAME=${JSON.stringify(value)} is not one label: no hostname (the sandbox id is used), a note naming it`, (t) => {
    const env = parseEnvironment({ ...ADD_ENV, CNI_ARGS: `K8S_POD_NAMESPACE=shop;K8S_POD_NAME=${value}` });
    const pod = podIdentity(env.args);
    t.is(pod.hostname, undefined);
    t.is(pod.namespace, 'shop');
    t.is(pod.note, `CNI_ARGS K8S_POD_NAME ${JSON.stringify(value)} is not one DNS label: the pod is published under its sandbox id`);
    const req = addRequest(parseConfig(CONFIG), env);
    t.is(req.hostname, undefined);
    t.is(req.app, 'shop');
  });
}

test('Kubernetes CNI_ARGS: an empty K8S_POD_NAME is no pod name, without a note', (t) => {
  t.deepEqual(podIdentity({ K8S_POD_NAME: '' }), {});
});

for (const value of ['kube_system', 'a.b', '', 'n'.repeat(64)]) {
  test(`Kubernetes CNI_ARGS: K8S_POD_NAMESPACE=${JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}… (${value.length})` : value)} is code 4, naming the arg`, (t) => {
    const env = parseEnvironment({ ...ADD_ENV, CNI_ARGS: `K8S_POD_NAMESPACE=${value}` });
    cniError(t, () => addRequest(parseConfig(CONFIG), env), 4, /^CNI_ARGS K8S_POD_NAMESPACE ".*": not a DNS label/);
  });
}

// ---------------------------------------------------------------------------
// Config

test('config: the defaults', (t) => {
  t.deepEqual(parseConfig(CONFIG), {
    cniVersion: '1.1.0', name: 'lhnet', bridge: 'br0', bridgeNetns: undefined, app: undefined, macScheme: 'stable', ipv6: 'slaac',
    waitIpv6: false, timeoutMs: 30_000, agentRunDir: '/run/leasehold/agent', mac: undefined, prevResult: undefined, validAttachments: undefined,
  });
});

test('config: every key, and what a runtime adds', (t) => {
  const valid = [{ containerID: 'c1', ifname: 'eth0' }];
  const c = parseConfig({
    ...CONFIG, bridgeNetns: 'lh-w1', app: 'web', macScheme: 'random', ipv6: 'off', waitIpv6: true, timeoutSeconds: 5, agentRunDir: '/run/x',
    runtimeConfig: { mac: '02:00:00:00:00:09' }, capabilities: { mac: true }, args: { cni: {} }, dns: {}, prevResult: { ips: [] },
    'cni.dev/valid-attachments': valid, 'cni.dev/other': 1,
  });
  t.like(c, { bridgeNetns: 'lh-w1', app: 'web', macScheme: 'random', ipv6: 'off', waitIpv6: true, timeoutMs: 5000, agentRunDir: '/run/x', mac: '02:00:00:00:00:09', validAttachments: valid });
  t.deepEqual(c.prevResult, { ips: [] });
});

for (const [what, config, code, msg] of [
  ['not an object', [], 6, /^the network configuration is not a JSON object$/],
  ['no cniVersion', { ...CONFIG, cniVersion: undefined }, 7, /^cniVersion: missing or not a string$/],
  ['cniVersion 0.2.0', { ...CONFIG, cniVersion: '0.2.0' }, 1, /^cniVersion 0\.2\.0 is not supported \(supported: 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0\)$/],
  ['no name', { ...CONFIG, name: undefined }, 7, /^name: missing/],
  ['a name with a space', { ...CONFIG, name: 'my net' }, 7, /^name: /],
  ['no bridge', { ...CONFIG, bridge: undefined }, 7, /^bridge: missing \(the Linux bridge the container joins\)$/],
  ['an empty bridge', { ...CONFIG, bridge: '' }, 7, /^bridge: not a non-empty string$/],
  ['an ipam section', { ...CONFIG, ipam: { type: 'dhcp' } }, 2, /^ipam: leasehold gets its address by DHCP itself/],
  ['an unknown key', { ...CONFIG, brigde: 'br1' }, 2, /^brigde: not a leasehold plugin key \(value "br1"; known: bridge, /],
  ['macScheme bad', { ...CONFIG, macScheme: 'fixed' }, 7, /^macScheme: "fixed" is not one of random, stable$/],
  ['ipv6 bad', { ...CONFIG, ipv6: 'dhcp6' }, 7, /^ipv6: "dhcp6" is not one of slaac, off$/],
  ['waitIpv6 a string', { ...CONFIG, waitIpv6: 'yes' }, 7, /^waitIpv6: not a boolean$/],
  ['timeoutSeconds 0', { ...CONFIG, timeoutSeconds: 0 }, 7, /^timeoutSeconds: not a positive number$/],
  ['agentRunDir relative', { ...CONFIG, agentRunDir: 'run' }, 7, /^agentRunDir: not an absolute path$/],
  ['runtimeConfig.mac a number', { ...CONFIG, runtimeConfig: { mac: 7 } }, 7, /^runtimeConfig\.mac: not a string$/],
  ['valid-attachments without ifname', { ...CONFIG, 'cni.dev/valid-attachments': [{ containerID: 'c' }] }, 7, /^cni\.dev\/valid-attachments: not a list/],
] as const) {
  test(`config: ${what} is code ${code}, naming the key`, (t) => {
    cniError(t, () => parseConfig(config), code, msg);
  });
}

test('stdin that is not JSON is code 6', (t) => {
  cniError(t, () => parseStdin('{"cniVersion":'), 6, /^the network configuration on stdin is not JSON: /);
});

test('the error object answers in the config\'s version when it has a usable one', (t) => {
  t.is(configVersion({ cniVersion: '0.4.0' }), '0.4.0');
  t.is(configVersion({ cniVersion: '7.0.0' }), '1.1.0');
  t.is(configVersion(undefined), '1.1.0');
  t.deepEqual(errorJson(new CniError(7, 'bridge: missing'), '1.0.0'), { cniVersion: '1.0.0', code: 7, msg: 'bridge: missing' });
  t.deepEqual(errorJson(new CniError(100, 'GC', 'a; b'), '1.1.0'), { cniVersion: '1.1.0', code: 100, msg: 'GC', details: 'a; b' });
});

// ---------------------------------------------------------------------------
// Versions

test('versions: compared by number; CHECK from 0.4.0, GC and STATUS from 1.1.0', (t) => {
  t.true(versionAtLeast('1.1.0', '1.0.0'));
  t.true(versionAtLeast('0.10.0', '0.4.0'));
  t.false(versionAtLeast('0.3.1', '0.4.0'));
  t.true(versionAtLeast('1.0.0', '1.0.0'));
  t.notThrows(() => checkCommandVersion('CHECK', '0.4.0'));
  cniError(t, () => checkCommandVersion('CHECK', '0.3.1'), 1, /^config version 0\.3\.1 does not allow CHECK \(needs 0\.4\.0 or later\)$/);
  cniError(t, () => checkCommandVersion('GC', '1.0.0'), 1, /does not allow GC/);
  cniError(t, () => checkCommandVersion('STATUS', '1.0.0'), 1, /does not allow STATUS/);
  t.notThrows(() => checkCommandVersion('GC', '1.1.0'));
  t.notThrows(() => checkCommandVersion('ADD', '0.3.0'));
  t.deepEqual(versionResult(), { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
});

// ---------------------------------------------------------------------------
// Results

const ATTACHMENT: CniAttachment = {
  hostVeth: 'lh0123456789ab', hostVethMac: 'aa:bb:cc:00:11:22', ifname: 'eth0', mac: '12:00:0b:00:00:01', netns: 'lhn-0123456789ab',
  ip: '198.18.1.23', prefixLen: 16, router: '198.18.0.1', dns: ['198.18.0.2'], domain: 'leasehold.test', search: ['lab.leasehold.test'],
};

test('ADD result at 1.1.0: host veth, the container interface with its sandbox, the address on it, default route, DNS', (t) => {
  t.deepEqual(addResult(ATTACHMENT, '/var/run/netns/cni-1', '1.1.0'), {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'lh0123456789ab', mac: 'aa:bb:cc:00:11:22' }, { name: 'eth0', mac: '12:00:0b:00:00:01', sandbox: '/var/run/netns/cni-1' }],
    ips: [{ address: '198.18.1.23/16', gateway: '198.18.0.1', interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', gw: '198.18.0.1' }],
    dns: { nameservers: ['198.18.0.2'], domain: 'leasehold.test', search: ['lab.leasehold.test'] },
  });
});

test('ADD result before 1.0.0 tags the address version; without router, DNS or host MAC those fields are left out', (t) => {
  const r = addResult({ ...ATTACHMENT, hostVethMac: undefined, router: undefined, dns: [], domain: undefined, search: [] }, '/proc/7/ns/net', '0.4.0');
  t.deepEqual(r, {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'lh0123456789ab' }, { name: 'eth0', mac: '12:00:0b:00:00:01', sandbox: '/proc/7/ns/net' }],
    ips: [{ version: '4', address: '198.18.1.23/16', interface: 1 }],
    routes: [],
    dns: {},
  });
});

test('CHECK reads the container interface and its addresses from prevResult', (t) => {
  const prev = addResult(ATTACHMENT, '/var/run/netns/cni-1', '1.1.0');
  t.deepEqual(checkExpectation(prev, 'eth0'), { mac: '12:00:0b:00:00:01', ips: ['198.18.1.23/16'] });
  t.deepEqual(checkExpectation({ interfaces: [], ips: [{ address: '10.0.0.1/8', interface: 3 }] }, 'eth0'), { mac: undefined, ips: [] });
  cniError(t, () => checkExpectation(undefined, 'eth0'), 7, /^prevResult: missing/);
});

const RECORD = { kind: 'cni', targetId: cniTargetId('lhnet', 'c0ffee01', 'eth0'), ifname: 'eth0' } as Attachment;

test('CHECK problems: each thing not as recorded is named', (t) => {
  const lease = { event: 'bound', ip: '198.18.1.23', prefixLen: 16, dns: [], search: [], leaseSeconds: 600, boundAt: 1 };
  const expect = { mac: '12:00:0b:00:00:01', ips: ['198.18.1.23/16'] };
  t.deepEqual(cniCheckProblems(RECORD, { clientAlive: true, link: { mac: '12:00:0b:00:00:01', ipv4: ['198.18.1.23'] }, lease }, expect), []);
  t.deepEqual(cniCheckProblems(RECORD, { clientAlive: false, link: { mac: '12:00:0b:00:00:02', ipv4: [] } }, expect), [
    'eth0 has MAC 12:00:0b:00:00:02, not 12:00:0b:00:00:01',
    'eth0 has no address 198.18.1.23/16',
    'DHCP client not running (the agent restarts it)',
    'no DHCP lease recorded',
  ]);
  t.deepEqual(cniCheckProblems(RECORD, { clientAlive: true, lease }, expect), ['eth0 is missing in the container']);
});

test('GC: held attachments the runtime does not list, by container id and interface', (t) => {
  const held = [
    { network: 'n', containerId: 'a', ifname: 'eth0' },
    { network: 'n', containerId: 'a', ifname: 'eth1' },
    { network: 'n', containerId: 'b', ifname: 'eth0' },
  ];
  t.deepEqual(staleAttachments(held, [{ containerID: 'a', ifname: 'eth0' }]), [held[1], held[2]]);
  t.deepEqual(staleAttachments(held, []), held);
  t.deepEqual(staleAttachments([], [{ containerID: 'a', ifname: 'eth0' }]), []);
});

// ---------------------------------------------------------------------------
// Names of a CNI attachment

test('a CNI attachment\'s names follow from (network, container id, ifname) alone', (t) => {
  const id = { kind: 'cni' as const, id: cniTargetId('lhnet', 'c0ffee0123456789', 'eth0') };
  t.deepEqual(cniTargetParts(id.id), { network: 'lhnet', containerId: 'c0ffee0123456789', ifname: 'eth0' });
  t.regex(stateKey(id), /^cni-[0-9a-f]{12}$/);
  t.regex(containerNetnsName(id), /^lhn-[0-9a-f]{12}$/);
  t.regex(hostVethName(id), /^lh[0-9a-f]{12}$/);
  t.is(dhcpHostname(id), 'c0ffee012345');
  t.is(Buffer.from(clientIdHex(id).slice(2), 'hex').toString(), 'leasehold:c0ffee012345/eth0', 'the interface keeps two of one container apart');
  t.is(clientIdHex(id).slice(0, 2), '00');
  const other = { kind: 'cni' as const, id: cniTargetId('lhnet', 'c0ffee0123456789', 'eth1') };
  t.not(stateKey(other), stateKey(id));
  t.not(hostVethName(other), hostVethName(id));
  t.not(hostVethName(id), hostVethName({ kind: 'netns', id: id.id }), 'a netns target of the same text gets another veth');
  t.deepEqual(cniKeyOf(RECORD), { network: 'lhnet', containerId: 'c0ffee01', ifname: 'eth0' });
  t.is(cniKeyOf({ ...RECORD, kind: 'docker' }), undefined);
});
