// The lease store's own cost per durable commit, without the network or the
// DHCP engine: CPU (user+sys of this process) and wall time per group and
// per lease, for SQLite with its own COMMIT fsync and for SQLite with the
// commit log, at several group sizes. The table is warmed to 40,000 leases
// first (as in the DORA bench). Measures, asserts nothing.
//
//   node --import=tsx test/bench/lease-store-micro.ts [--groups N] [--rounds R] [--dir D]
//
// Runs as any user; writes only under a temporary directory (or --dir, which
// should be on the disk the server uses).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Lease } from '../../server/leases/lease.ts';
import { openSqliteLeaseStore, type SqliteLeaseStore } from '../../server/leases/sqlite-lease-store.ts';

const { values } = parseArgs({ options: { groups: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '3' }, dir: { type: 'string' } } });
const GROUPS = Number(values.groups);
const WARM = 40_000;

function lease(i: number): Lease {
  const hw = `02:00:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  const now = Date.now();
  return { ip: `198.18.${(i >> 8) & 0xff}.${i & 0xff}`, clientKey: `hw:${hw}`, hwAddress: hw, subnetId: 'bench', state: 'bound', grantedAt: now, expiresAt: now + 3_600_000 };
}

async function measure(store: SqliteLeaseStore, groupSize: number): Promise<{ cpuPerLease: number; wallPerGroup: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let g = 0; g < GROUPS; g += 1) {
    // One group: commits submitted in the same turn share one write.
    await Promise.all(Array.from({ length: groupSize }, (_, k) => store.commit({ put: [lease((g * groupSize + k) % WARM)] })));
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  return { cpuPerLease: (cpu.user + cpu.system) / (GROUPS * groupSize), wallPerGroup: wall / GROUPS };
}

const MODES = [['sqlite-fsync', false], ['commit-log', {}]] as const;
const GROUP_SIZES = [1, 4, 16, 64];
const ROUNDS = Number(values.rounds);

const dir = values.dir ? mkdtempSync(join(values.dir, 'lt-store-micro-')) : mkdtempSync(join(tmpdir(), 'lt-store-micro-'));
try {
  console.log(`# ${GROUPS} groups per cell, ${ROUNDS} rounds (modes interleaved, so both see the same host), table warmed to ${WARM} leases, directory ${dir}`);
  const stores = new Map<string, SqliteLeaseStore>();
  for (const [name, commitLog] of MODES) {
    const store = openSqliteLeaseStore(join(dir, `${name}.db`), { commitLog, maxCommitWaitMs: 0, maxBatch: 512 });
    for (let i = 0; i < WARM; i += 512) await Promise.all(Array.from({ length: 512 }, (_, k) => store.commit({ put: [lease(i + k)] })));
    stores.set(name, store);
  }
  const cells = new Map<string, Array<{ cpuPerLease: number; wallPerGroup: number }>>();
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const groupSize of GROUP_SIZES) {
      for (const [name] of MODES) {
        const key = `${name} ${groupSize}`;
        cells.set(key, [...(cells.get(key) ?? []), await measure(stores.get(name)!, groupSize)]);
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log('mode                 group  cpu_us_per_lease (median; all rounds)     wall_us_per_group (median)');
  for (const groupSize of GROUP_SIZES) {
    for (const [name] of MODES) {
      const runs = cells.get(`${name} ${groupSize}`)!;
      const cpu = runs.map((r) => r.cpuPerLease);
      console.log(`${name.padEnd(20)} ${String(groupSize).padStart(5)}  ${median(cpu).toFixed(1).padStart(8)} (${cpu.map((c) => c.toFixed(1)).join(' ')})`.padEnd(70) + `${median(runs.map((r) => r.wallPerGroup)).toFixed(0).padStart(8)}`);
    }
  }
  for (const store of stores.values()) await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
