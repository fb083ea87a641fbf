import test from 'ava';
import type { QueueDropReason } from '../../lib/core/deadline-queue.ts';
import { ReplySendQueue, type PendingSend, type ReplySendTimers } from '../../server/net/reply-send-queue.ts';

/** A socket that takes `room` datagrams, then reports itself full until given more room. */
function rig(limits = { maxQueued: 4, deadlineMs: 3000, batch: 2 }) {
  let now = 0;
  const deferred: Array<() => void> = [];
  const timers: ReplySendTimers = { now: () => now, defer: (fn) => deferred.push(fn) };
  const sent: number[] = [];
  const calls: number[] = [];
  const drops: QueueDropReason[] = [];
  const socket = { room: Infinity };
  const queue = new ReplySendQueue(
    limits,
    {
      sendBatch(items, count) {
        calls.push(count);
        let i = 0;
        for (; i < count && socket.room > 0; i++, socket.room--) sent.push(items[i].port);
        return i;
      },
    },
    (reason) => drops.push(reason),
    timers,
  );
  const turn = () => deferred.splice(0).forEach((fn) => fn());
  const item = (port: number): PendingSend => ({ data: Buffer.alloc(1), address: 0xc6120001, port });
  return { queue, sent, calls, drops, socket, turn, item, at: (t: number) => (now = t) };
}

test('replies of one loop turn go out together, in batches, in order', (t) => {
  const r = rig({ maxQueued: 8, deadlineMs: 3000, batch: 2 });
  for (let p = 1; p <= 5; p++) r.queue.enqueue(r.item(p), 0);
  t.deepEqual(r.sent, [], 'nothing is sent before the turn ends');
  r.turn();
  t.deepEqual(r.sent, [1, 2, 3, 4, 5]);
  t.deepEqual(r.calls, [2, 2, 1]);
  t.is(r.queue.length, 0);
});

test('a full socket keeps the rest queued in order until resume; nothing is lost or reordered', (t) => {
  const r = rig();
  r.socket.room = 1;
  for (let p = 1; p <= 3; p++) r.queue.enqueue(r.item(p), 0);
  r.turn();
  t.deepEqual(r.sent, [1]);
  t.true(r.queue.blocked);
  t.is(r.queue.length, 2);
  r.queue.enqueue(r.item(4), 0);
  r.turn();
  t.deepEqual(r.sent, [1], 'blocked: no send is tried until the socket has room');
  r.socket.room = Infinity;
  r.queue.resume();
  t.deepEqual(r.sent, [1, 2, 3, 4]);
  t.false(r.queue.blocked);
});

test('a reply whose request is past the deadline while it waits is dropped as stale, never sent late', (t) => {
  const r = rig();
  r.socket.room = 0;
  r.queue.enqueue(r.item(1), 0);
  r.queue.enqueue(r.item(2), 2000);
  r.turn();
  r.at(3500);
  r.socket.room = Infinity;
  r.queue.resume();
  t.deepEqual(r.sent, [2]);
  t.deepEqual(r.drops, ['stale']);
});

test('while blocked the queue holds at most maxQueued: the oldest go first (overflow)', (t) => {
  const r = rig({ maxQueued: 3, deadlineMs: 3000, batch: 2 });
  r.socket.room = 0;
  for (let p = 1; p <= 6; p++) r.queue.enqueue(r.item(p), p);
  r.turn();
  t.is(r.queue.length, 3);
  t.deepEqual(r.drops, ['overflow', 'overflow', 'overflow']);
  r.socket.room = Infinity;
  r.queue.resume();
  t.deepEqual(r.sent, [4, 5, 6]);
});

test('after close nothing more is queued or sent', (t) => {
  const r = rig();
  r.queue.enqueue(r.item(1), 0);
  r.queue.close();
  r.queue.enqueue(r.item(2), 0);
  r.turn();
  r.queue.flush();
  t.deepEqual(r.sent, []);
  t.deepEqual(r.drops, []);
});
