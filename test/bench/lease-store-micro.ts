// The lease store's own cost per durable commit, without the network or the
// DHCP engine: CPU (user+sys of this process) and wall time per group and
// per lease, for SQLite with its own COMMIT fsync and for SQLite with the
// commit log, at several group sizes. The table is warmed to 40,000 leases
// first (as in the DORA bench). Measures, asserts nothing.
//
//   node --import=tsx test/bench/lease-store-micro.ts [--groups N] [--dir D]
//
// Runs as any user; writes only under a temporary directory (or --dir, which
// should be on the disk the server uses).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Lease } from '../../server/leases/lease.ts';
import { openSqliteLeaseStore, type SqliteLeaseStore } from '../../server/leases/sqlite-lease-store.ts';

const { values } = parseArgs({ options: { groups: { type: 'string', default: '2000' }, dir: { type: 'string' } } });
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

const dir = values.dir ? mkdtempSync(join(values.dir, 'lt-store-micro-')) : mkdtempSync(join(tmpdir(), 'lt-store-micro-'));
try {
  console.log(`# ${GROUPS} groups per cell, table warmed to ${WARM} leases, directory ${dir}`);
  console.log('mode                 group  cpu_us_per_lease  wall_us_per_group  commits');
  for (const [name, commitLog] of [['sqlite-fsync', false], ['commit-log', {}]] as const) {
    for (const groupSize of [1, 4, 16, 64]) {
      const path = join(dir, `${name}-${groupSize}.db`);
      const store = openSqliteLeaseStore(path, { commitLog, maxCommitWaitMs: 0, maxBatch: 512 });
      for (let i = 0; i < WARM; i += 512) await Promise.all(Array.from({ length: 512 }, (_, k) => store.commit({ put: [lease(i + k)] })));
      const before = store.stats().commits;
      const r = await measure(store, groupSize);
      const commits = store.stats().commits - before;
      console.log(`${name.padEnd(20)} ${String(groupSize).padStart(5)}  ${r.cpuPerLease.toFixed(1).padStart(16)}  ${r.wallPerGroup.toFixed(0).padStart(17)}  ${commits}`);
      await store.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
