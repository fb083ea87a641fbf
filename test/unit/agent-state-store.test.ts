// The agent's state store (agent/io/state-store.ts) on a temporary
// directory: the lease-file watch that wakes an attach as soon as the hook
// renames the lease into place, and only for its own key.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { StateStore } from '../../agent/io/state-store.ts';

const settled = (p: Promise<void>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(r, ms, false))]);

test('watchLease: woken by the hook\'s rename of the lease file, not by other files; a change before next() is not lost', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lt-agent-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new StateStore(dir);
  await store.init();
  const changes = store.watchLease('netns-a');
  t.teardown(() => changes.close());

  const first = changes.next();
  await writeFile(join(store.attachmentsDir, 'netns-a.log'), 'udhcpc output\n');
  await writeFile(join(store.attachmentsDir, 'netns-b.lease'), 'event=bound\n');
  t.false(await settled(first, 100), 'other files do not wake it');

  // As the hook writes it: a temporary file, renamed into place.
  await writeFile(join(store.attachmentsDir, 'netns-a.lease.tmp.1'), 'event=bound\n');
  await rename(join(store.attachmentsDir, 'netns-a.lease.tmp.1'), store.leasePath('netns-a'));
  t.true(await settled(first, 2000), 'the rename wakes it');

  await writeFile(store.leasePath('netns-a'), 'event=renew\n');
  await new Promise((r) => setTimeout(r, 100));
  t.true(await settled(changes.next(), 50), 'a change that came before next() resolves it at once');
});

test('lock: a locks dir removed under a running daemon is made again, and the lock works', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lt-agent-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new StateStore(dir);
  await store.init();
  await rm(join(dir, 'locks'), { recursive: true, force: true });
  const unlock = await store.lock('docker-abc');
  await t.throwsAsync(store.lock('docker-abc', 100), { message: /docker-abc is locked by process \d+/ }, 'held');
  await unlock();
  await (await store.lock('docker-abc', 100))();
});
