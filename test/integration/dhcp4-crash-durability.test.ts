import { copyFile, rm, stat } from 'node:fs/promises';
import test, { type ExecutionContext } from 'ava';
import { startDhcpCapture, type CapturedDhcp } from '../harness/capture.ts';
import { startUdhcpc, type UdhcpcClient } from '../harness/clients.ts';
import { sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import type { LeaseholdServer } from '../harness/leasehold-server.ts';
import { pollUntil } from '../harness/poll.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// RFC 2131 §4.3.1: a server must not forget a binding it has acknowledged.
// Real udhcpc clients get leases while the server is killed with SIGKILL in
// the middle of the stream; every ACK seen on the wire before the kill must
// name a lease the restarted server holds, for the client it was sent to.

const PREFIX = 'lt-d4k';
sweepAround(test, PREFIX);

const SERVER = '198.18.26.1';
const CLIENTS = 40;
const KILL_AFTER_ACKS = 20;
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [{
    cidr: '198.18.26.0/24',
    interface: 'eth0',
    pools: [{ start: '198.18.26.10', end: '198.18.26.250' }],
    leaseTime: 600,
  }],
};

const DHCPACK = 5;

function acksFromServer(packets: readonly CapturedDhcp[]): CapturedDhcp[] {
  return packets.filter((p) => p.messageType === DHCPACK && p.ipSrc === SERVER && p.yiaddr !== '');
}

/** Files SQLite keeps beside its database (-shm is an index SQLite rebuilds from the WAL: removed, not restored). */
const SQLITE_FILES = ['', '-wal'];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function crashMidStream(t: ExecutionContext, beforeRestart: (server: LeaseholdServer | undefined) => Promise<void>, afterStart: (server: LeaseholdServer | undefined) => Promise<void> = async () => {}) {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  const leasehold = server.kind === 'leasehold' ? (server as unknown as LeaseholdServer) : undefined;
  await afterStart(leasehold);
  const capture = await startDhcpCapture(serverHost);
  const hosts = await segment.addHosts(Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` })));

  // Clients start one after another, so some are mid-exchange when the server dies.
  const clients: UdhcpcClient[] = [];
  let starting = true;
  const starter = (async () => {
    for (const host of hosts) {
      if (!starting) break;
      clients.push(await startUdhcpc(host, { oneShot: true, discoverTries: 20 }));
    }
  })();
  await pollUntil(`${KILL_AFTER_ACKS} ACKs`, () => acksFromServer(capture.packets()).length >= KILL_AFTER_ACKS || undefined, { timeoutMs: 60_000 });
  await server.kill9();
  starting = false;
  await starter;
  // The server is dead: whatever tshark prints from now on was sent before the kill.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const acked = acksFromServer(capture.packets());
  t.true(acked.length >= KILL_AFTER_ACKS, `${acked.length} ACKs before the kill`);

  await beforeRestart(leasehold);
  await server.restart();
  const held = new Map((await server.leases()).filter((l) => l.state === 'bound').map((l) => [l.ip, l.hwAddress]));
  for (const ack of acked) t.is(held.get(ack.yiaddr), ack.chaddr, `ACK of ${ack.yiaddr} to ${ack.chaddr}`);
  t.log(`${acked.length} ACKs before SIGKILL, ${held.size} bound leases after the restart`);
  await Promise.all(clients.map((c) => c.stop()));
}

test('every lease ACKed before a SIGKILL is held after the restart', async (t) => {
  await crashMidStream(t, async () => {});
});

test('every lease ACKed before a SIGKILL is held even when SQLite lost all its writes since its last sync (from the commit log)', async (t) => {
  // A power cut can take SQLite's unsynced commits (synchronous=NORMAL); the commit log is what was fdatasync'd before each ACK.
  // Simulated: the database files go back to the copy taken when the server was ready (its last sync), the log stays.
  const saved = new Map<string, boolean>();
  await crashMidStream(
    t,
    async (server) => {
      if (!server) return;
      for (const suffix of SQLITE_FILES) {
        const file = server.storePath + suffix;
        if (saved.get(suffix)) await copyFile(`${file}.at-ready`, file);
        else await rm(file, { force: true });
      }
      await rm(`${server.storePath}-shm`, { force: true });
    },
    async (server) => {
      if (!server) {
        t.log('the commit log is Leasehold\'s: with Kea this is the plain crash test');
        return;
      }
      for (const suffix of SQLITE_FILES) {
        const file = server.storePath + suffix;
        saved.set(suffix, await exists(file));
        if (saved.get(suffix)) await copyFile(file, `${file}.at-ready`);
      }
      t.true(await exists(`${server.storePath}.commit-log`), 'the server writes a commit log');
    },
  );
});
