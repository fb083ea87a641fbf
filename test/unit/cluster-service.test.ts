import test from 'ava';
import { silentLogger } from '../../lib/core/logger.ts';
import { ClusterService } from '../../server/cluster/cluster-service.ts';
import { HA_DEFAULTS } from '../../server/cluster/ha-config.ts';
import type { HeartbeatResult, HeartbeatRow, ServerRegistry } from '../../server/leases/pg/pg-server-registry.ts';

// The cluster service's fence over a heartbeat connection that hangs, fails
// and comes back (what a server cut off from PostgreSQL sees: issue 14),
// with a monotonic clock the test moves by hand. The heartbeat timer is
// real (100 ms); the test only waits for the next heartbeat to be sent, it
// never judges by elapsed real time.

const CONFIG = { ...HA_DEFAULTS, serverName: 'a', heartbeatIntervalMs: 100, fenceAfterMs: 1000, partnerDownAfterMs: 1600 };

interface Call {
  resolve(result: HeartbeatResult): void;
  reject(err: Error): void;
}

function rig() {
  let now = 0;
  const calls: Call[] = [];
  const registry: ServerRegistry = {
    claim: () => Promise.resolve(undefined),
    heartbeat: (_name, _incarnation, state) =>
      // The last one, at stop, is not part of the story.
      state === 'stopped'
        ? Promise.resolve({ rows: [], dbMs: now })
        : new Promise<HeartbeatResult>((resolve, reject) => {
            calls.push({ resolve, reject });
          }),
    close: () => Promise.resolve(),
  };
  const service = new ClusterService({ config: CONFIG, openRegistry: () => Promise.resolve(registry), addresses: () => [], logger: silentLogger, monotonicNow: () => now, wallNow: () => now });
  const row = (serverName: string): HeartbeatRow => ({ serverName, state: 'active', addresses: [], ageMs: 0, serving: '' });
  /** Both servers live, by the database's clock (the fake one). */
  const answer = (): HeartbeatResult => ({ rows: [row('a'), row('b')], dbMs: now });
  /** The `n`th heartbeat (1-based) once it has been sent. */
  const sent = async (n: number): Promise<Call> => {
    while (calls.length < n) await new Promise((r) => setTimeout(r, 5));
    return calls[n - 1];
  };
  return {
    service,
    calls,
    answer,
    sent,
    set now(ms: number) {
      now = ms;
    },
  };
}

test('cut off: a hanging heartbeat fences at fenceAfterMs, failing ones keep it fenced, an answer counts from when it was sent', async (t) => {
  const r = rig();
  const starting = r.service.start();
  (await r.sent(1)).resolve(r.answer());
  await starting;
  r.now = 100;
  r.service.serve();
  (await r.sent(2)).resolve(r.answer());
  await r.sent(3);
  t.false(r.service.fenced);
  t.is(r.service.membership.live.length, 2);

  // Heartbeat 3 hangs (its packets dropped): no second one joins it, and the fence falls on the clock alone.
  r.now = 1100;
  t.false(r.service.fenced, 'heartbeat 2 (sent at 100) is 1000 ms old: not yet');
  r.now = 1101;
  t.true(r.service.fenced);
  t.is(r.service.status().fenceReason, 'last heartbeat written 1001 ms ago (ha.fenceAfterMs 1000)');
  await new Promise((resolve) => setTimeout(resolve, 3 * CONFIG.heartbeatIntervalMs));
  t.is(r.calls.length, 3, 'one heartbeat at a time');

  // It times out, and the next one cannot connect: still fenced, whatever the membership it last read said.
  r.now = 3200;
  r.calls[2].reject(new Error('Query read timeout'));
  (await r.sent(4)).reject(new Error('timeout expired'));
  await r.sent(5);
  t.true(r.service.fenced);

  // Back: an answer unfences, for fenceAfterMs from when that heartbeat was sent.
  r.now = 5000;
  r.calls[4].reject(new Error('timeout expired'));
  (await r.sent(6)).resolve(r.answer());
  const late = await r.sent(7);
  t.false(r.service.fenced);
  // Heartbeat 7 is sent at 5000 and answered at 6500: the database stamped our row no earlier than 5000, so neither do we.
  r.now = 6500;
  late.resolve(r.answer());
  const last = await r.sent(8);
  t.true(r.service.fenced, 'a late answer does not extend the fence past its sending time + fenceAfterMs');
  last.reject(new Error('stopping'));
  await r.service.stop();
});
