import test from 'ava';
import { validateConfig } from '../../server/config/validate.ts';
import { withSqlitePath, type LeaseStoreConfig } from '../../server/leases/lease-store-config.ts';
import { describeTarget, parsePostgresUrl, targetFields } from '../../server/leases/pg/postgres-target.ts';
import { configIssues } from './helpers/config-issues.ts';

// The leaseStore section: SQLite (the default) or PostgreSQL, each with its
// own fields, every mistake named by its field.

function withStore(leaseStore: unknown): Record<string, unknown> {
  return {
    interfaces: [{ name: 'eth0', address: '198.18.0.1' }],
    subnets: [{ id: 'lab', subnet: '198.18.0.0/16', interface: 'eth0', pools: [{ start: '198.18.1.0', end: '198.18.1.255' }], leaseTime: 3600 }],
    leaseStore,
  };
}

const store = (leaseStore: unknown): LeaseStoreConfig => validateConfig(withStore(leaseStore)).leaseStore;
const issues = (leaseStore: unknown) => configIssues(withStore(leaseStore));

const PG_DEFAULTS = { poolSize: 4, statementTimeoutMs: 5000, lockTimeoutMs: 2000, connectTimeoutMs: 3000, maxBatch: 256, allowUnsafeDurability: false, shared: false };

test('sqlite is the default, with its default path', (t) => {
  t.deepEqual(store(undefined), { type: 'sqlite', path: '/var/lib/leasehold/leases.db' });
  t.deepEqual(store({ path: '/tmp/l.db' }), { type: 'sqlite', path: '/tmp/l.db' });
});

test('sqlite: the commit gather window in whole microseconds, 0..5000, kept only when given', (t) => {
  t.deepEqual(store({ path: '/tmp/l.db', commitWaitUs: 1200 }), { type: 'sqlite', path: '/tmp/l.db', commitWaitUs: 1200 });
  t.deepEqual(store({ commitWaitUs: 0 }), { type: 'sqlite', path: '/var/lib/leasehold/leases.db', commitWaitUs: 0 });
  t.is(issues({ commitWaitUs: 5001 }).length, 1);
  t.regex(issues({ commitWaitUs: 5001 })[0], /^leaseStore\.commitWaitUs: /);
  t.regex(issues({ commitWaitUs: 0.5 })[0], /^leaseStore\.commitWaitUs: /);
  t.regex(issues({ commitWaitUs: -1 })[0], /^leaseStore\.commitWaitUs: /);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d', commitWaitUs: 600 }), ['leaseStore.commitWaitUs: unknown field "commitWaitUs"']);
});

test('postgresql by URL, with defaults', (t) => {
  t.deepEqual(store({ type: 'postgresql', url: 'postgresql://leasehold@198.18.0.4:5432/leasehold', passwordFile: '/etc/leasehold/pg.password' }), {
    type: 'postgresql',
    url: 'postgresql://leasehold@198.18.0.4:5432/leasehold',
    passwordFile: '/etc/leasehold/pg.password',
    ...PG_DEFAULTS,
  });
});

test('postgresql by fields; port defaults to 5432; every tunable kept', (t) => {
  t.deepEqual(store({ type: 'postgresql', host: '/run/lh/sock', database: 'lh', user: 'lh' }), {
    type: 'postgresql',
    host: '/run/lh/sock',
    port: 5432,
    database: 'lh',
    user: 'lh',
    ...PG_DEFAULTS,
  });
  const all = {
    type: 'postgresql',
    host: 'db.example',
    port: 6543,
    database: 'd',
    user: 'u',
    poolSize: 8,
    statementTimeoutMs: 1000,
    lockTimeoutMs: 500,
    connectTimeoutMs: 700,
    maxBatch: 64,
    allowUnsafeDurability: true,
    shared: true,
  };
  t.deepEqual(store(all), all);
});

test('postgresql mistakes name their field', (t) => {
  t.deepEqual(issues({ type: 'postgresql' }), ['leaseStore: needs url, or host, database and user']);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d', host: 'h', user: 'u' }), [
    'leaseStore: url and host, user are exclusive: give the URL, or host, database and user',
  ]);
  t.deepEqual(issues({ type: 'postgresql', host: 'h' }), ['leaseStore.database: is required', 'leaseStore.user: is required']);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u:secret@h/d' }), [
    'leaseStore.url: must not hold the password: put it in a file named by leaseStore.passwordFile',
  ]);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d?password=secret' }), [
    'leaseStore.url: must not hold the password: put it in a file named by leaseStore.passwordFile',
  ]);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d?sslmode=require' }), [
    'leaseStore.url: parameter "sslmode" is not supported (only host, port, user, dbname)',
  ]);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@a:1,b:2/d' }), ['leaseStore.url: one host[:port] please, got "a:1,b:2"']);
  t.deepEqual(issues({ type: 'postgresql', url: 'mysql://u@h/d' }), ['leaseStore.url: must be a URL postgresql://user@host:port/database, got "mysql://u@h/d"']);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d', path: '/x.db' }), ['leaseStore.path: unknown field "path"']);
  t.deepEqual(issues({ type: 'sqlite', url: 'postgresql://u@h/d' }), ['leaseStore.url: unknown field "url"']);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d', poolSize: 2, maxBatch: 5000, statementTimeoutMs: 'soon' }), [
    'leaseStore.poolSize: must be an integer from 3 to 32, got 2',
    'leaseStore.statementTimeoutMs: must be an integer from 100 to 600000, got "soon"',
    'leaseStore.maxBatch: must be an integer from 1 to 1024, got 5000',
  ]);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d', allowUnsafeDurability: 'yes' }), ['leaseStore.allowUnsafeDurability: must be true or false, got "yes"']);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d', shared: 2 }), ['leaseStore.shared: must be true or false, got 2']);
  t.deepEqual(issues({ type: 'postgresql', url: 'postgresql://u@h/d', passwrodFile: 'x' }), ['leaseStore.passwrodFile: unknown field "passwrodFile" (did you mean "passwordFile"?)']);
  t.deepEqual(issues('sqlite'), ['leaseStore: must be a mapping, got "sqlite"']);
});

test('libpq URLs: host, port, database, user, a socket directory, %-escapes', (t) => {
  t.deepEqual(parsePostgresUrl('postgresql://leasehold@198.18.0.4:5432/leasehold'), {
    ok: true,
    fields: { host: '198.18.0.4', port: 5432, database: 'leasehold', user: 'leasehold' },
  });
  t.deepEqual(parsePostgresUrl('postgres://lh@/lh?host=/tmp/lt-pg/sock&port=5433'), { ok: true, fields: { host: '/tmp/lt-pg/sock', port: 5433, database: 'lh', user: 'lh' } });
  t.deepEqual(parsePostgresUrl('postgresql://lh@%2Frun%2Fpg/d%20b'), { ok: true, fields: { host: '/run/pg', database: 'd b', user: 'lh' } });
  t.deepEqual(parsePostgresUrl('postgresql://[fd00::4]:5432/lh?user=x&dbname=y'), { ok: true, fields: { host: 'fd00::4', port: 5432, database: 'y', user: 'x' } });
  t.false(parsePostgresUrl('postgresql://h:99999/d').ok);
  t.false(parsePostgresUrl('postgresql://h/d%zz').ok);
});

test('messages name the store by a URL that never holds a password', (t) => {
  t.is(describeTarget({ url: 'postgresql://lh@h/d' }), 'postgresql://lh@h/d');
  t.is(describeTarget({ host: '198.18.0.4', port: 5432, database: 'leasehold', user: 'leasehold' }), 'postgresql://leasehold@198.18.0.4:5432/leasehold');
  t.is(describeTarget({ host: '/tmp/s', port: 5432, database: 'lh', user: 'lh' }), 'postgresql://lh@/lh?host=/tmp/s&port=5432');
  t.is(describeTarget({ host: 'fd00::4', port: 5432, database: 'lh', user: 'lh' }), 'postgresql://lh@[fd00::4]:5432/lh');
  // The display form reads back as the same target.
  const fields = { host: '/tmp/s', port: 5432, database: 'lh', user: 'lh' };
  t.deepEqual(targetFields({ url: describeTarget(fields) }), fields);
});

test('--store overrides the SQLite path only', (t) => {
  t.deepEqual(withSqlitePath({ type: 'sqlite', path: '/a.db' }, '/b.db'), { type: 'sqlite', path: '/b.db' });
  t.throws(() => withSqlitePath(store({ type: 'postgresql', url: 'postgresql://u@h/d' }), '/b.db'), {
    message: '--store names an SQLite file, but leaseStore.type is postgresql',
  });
});

// The `ha` section: load balancing among servers sharing one PostgreSQL.
const SHARED_PG = { type: 'postgresql', url: 'postgresql://leasehold@198.18.0.4:5432/leasehold', shared: true };
const withHa = (ha: unknown, leaseStore: unknown = SHARED_PG) => ({ ...withStore(leaseStore), ha });

test('ha: defaults, and only with a shared PostgreSQL store', (t) => {
  t.deepEqual(validateConfig(withHa({ serverName: 'appliance-1' })).ha, {
    serverName: 'appliance-1',
    heartbeatIntervalMs: 1000,
    fenceAfterMs: 3000,
    partnerDownAfterMs: 5000,
    loadBalanceMaxSecs: 10,
    maxClockSkewMs: 2000,
    fenceOnClockSkewMs: 10000,
  });
  t.is(validateConfig(withStore(SHARED_PG)).ha, undefined);
  const needs = 'ha: needs leaseStore.type postgresql with leaseStore.shared: true (the servers share one lease table)';
  t.deepEqual(configIssues(withHa({ serverName: 'a' }, null)), [needs]);
  t.deepEqual(configIssues(withHa({ serverName: 'a' }, { ...SHARED_PG, shared: false })), [needs]);
});

test('ha: every bad field is named', (t) => {
  t.deepEqual(configIssues(withHa({})), ['ha.serverName: is required']);
  t.deepEqual(configIssues(withHa({ serverName: 'Appliance_1' })), ['ha.serverName: "Appliance_1" is not 1 to 63 of a-z, 0-9 and -']);
  const typo = configIssues(withHa({ serverName: 'a', heartbeatMs: 5 }));
  t.is(typo.length, 1);
  t.regex(typo[0], /^ha\.heartbeatMs: unknown field "heartbeatMs"/);
  t.deepEqual(configIssues(withHa({ serverName: 'a', partnerDownAfterMs: 4000 })), [
    'ha.partnerDownAfterMs: must exceed fenceAfterMs + heartbeatIntervalMs (4000), got 4000',
  ]);
  t.deepEqual(configIssues(withHa({ serverName: 'a', fenceAfterMs: 1000 })), ['ha.fenceAfterMs: must exceed heartbeatIntervalMs (1000), got 1000']);
  t.deepEqual(configIssues(withHa({ serverName: 'a', maxClockSkewMs: 20000 })), ['ha.fenceOnClockSkewMs: must be at least maxClockSkewMs (20000), got 10000']);
  t.is(configIssues(withHa({ serverName: 'a', loadBalanceMaxSecs: -1 })).length, 1);
  t.regex(configIssues(withHa({ serverName: 'a', loadBalanceMaxSecs: -1 }))[0], /^ha\.loadBalanceMaxSecs: /);
});
