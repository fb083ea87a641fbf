import test from 'ava';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { afterSend, buildRelease, releaseRepeatDelayMs, releaseStep, type PendingRelease } from '../../agent/core/pending-release.ts';

const pending: PendingRelease = {
  version: 1, key: 'docker-4b94d0da2047', name: 'web1', mac: 'c6:12:00:0b:3b:86', clientIdHex: '006c65617365686f6c64',
  ip: '198.18.1.7', serverId: '198.18.0.1', expiresAtMs: 100_000, attempts: 1, nextAtMs: 2000,
};

test('DHCPRELEASE as a client sends it (RFC 2131 §4.4.6): ciaddr, chaddr, server id, client id, no requested address', (t) => {
  const msg = Dhcp4Message.decode(buildRelease(pending, 0xdeadbeef));
  t.is(msg.op, 1);
  t.is(msg.xid, 0xdeadbeef);
  t.is(msg.ciaddr, '198.18.1.7');
  t.is(msg.yiaddr, '0.0.0.0');
  t.is(msg.hwAddress(), 'c6:12:00:0b:3b:86');
  t.is(msg.options.get(Opt.MessageType), Dhcp4MessageType.Release);
  t.is(msg.options.get(Opt.ServerId), '198.18.0.1');
  t.deepEqual(msg.options.getRaw(Opt.ClientId.code), Buffer.from(pending.clientIdHex, 'hex'));
  t.is(msg.options.getRaw(Opt.RequestedIp.code), undefined);
});

test('repeats back off from 2 s to at most 5 minutes, stop at lease expiry, and never hit a re-attached target', (t) => {
  t.deepEqual([0, 1, 2, 3, 8, 9, 20].map(releaseRepeatDelayMs), [2000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  t.deepEqual(releaseStep(pending, 1999, false), { kind: 'wait' });
  t.deepEqual(releaseStep(pending, 2000, false), { kind: 'send' });
  t.deepEqual(releaseStep(pending, 100_000, false), { kind: 'drop', reason: 'lease expired' });
  t.deepEqual(releaseStep(pending, 2000, true), { kind: 'drop', reason: 'attached again' });
  t.like(afterSend(pending, 5000), { attempts: 2, nextAtMs: 9000 });
});
