/**
 * The PostgreSQL schema, as an ordered list of migrations. SQL lives in
 * TypeScript strings because tsc copies no .sql file into dist/.
 *
 * Rules (checked by `migrationOrderProblems`, and a unit test): versions
 * start at 1 and go up by one; every migration says what it does;
 * `compatibleFrom` is at most its own version and never goes down. A
 * migration old servers can live with (a new table, a new column with a
 * default) keeps `compatibleFrom`, so servers can be upgraded one at a
 * time; one they cannot raises it to its own version, and then every
 * server must stop before `db upgrade`.
 */
export interface Migration {
  version: number;
  description: string;
  /**
   * The oldest schema version a server may have been written for and still
   * run on the schema this migration leaves (its own version when older
   * servers would break on it).
   */
  compatibleFrom: number;
  sql: string;
}

/**
 * Advisory lock classes (the first key of `pg_advisory_*lock(int4, int4)`);
 * 0x4c48 is "LH". Every writer takes address and client locks in one order
 * (class, then key), so two groups never deadlock.
 */
export const LOCK_CLASS_SCHEMA = 0x4c480000;
/** Key: the IPv4 address as a signed 32-bit number (`address - 2^31`). */
export const LOCK_CLASS_ADDRESS = 0x4c480001;
/** Key: `hashtext(subnet_id || '|' || client_key)`. */
export const LOCK_CLASS_CLIENT = 0x4c480002;
/** Session lock held by a server that is the database's only server (no `ha` section). */
export const LOCK_CLASS_SOLE_SERVER = 0x4c480003;
/** Session lock held by the one server that runs the DNS reconciler (several servers on one database). */
export const LOCK_CLASS_DDNS_LEADER = 0x4c480004;
/**
 * Key: `hashtext(ha.serverName)`. Session lock held by the process running
 * under that name, on its heartbeat connection: PostgreSQL frees it when
 * that session ends, so a dead process's name is free at once.
 */
export const LOCK_CLASS_SERVER_NAME = 0x4c480005;

const V1 = `
CREATE TABLE schema_version (
  id              int PRIMARY KEY CHECK (id = 1),
  version         int NOT NULL,
  compatible_from int NOT NULL,
  upgraded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE schema_migrations (
  version     int PRIMARY KEY,
  description text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- The one clock every condition is judged by, whichever server writes.
CREATE FUNCTION lh_now_ms() RETURNS bigint LANGUAGE sql VOLATILE
  AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- "This record no longer binds its address": leaseIsReusable() in
-- server/leases/lease.ts, held to the same table of cases by a test.
CREATE FUNCTION lh_reusable(state text, expires_at bigint, now_ms bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT state IN ('released', 'expired') OR expires_at <= now_ms $$;

CREATE TABLE leases (
  ip          inet   PRIMARY KEY CHECK (family(ip) = 4 AND masklen(ip) = 32),
  client_key  text   NOT NULL,
  hw_address  text   NOT NULL,
  client_id   text,
  hostname    text,
  subnet_id   text   NOT NULL,
  state       text   NOT NULL CHECK (state IN ('bound', 'declined', 'released', 'expired')),
  granted_at  bigint NOT NULL,  -- ms since the epoch, as Lease
  expires_at  bigint NOT NULL,
  fqdn        text,
  ipv6        text,
  granted_by  text   NOT NULL,  -- the server that wrote the binding
  version     bigint NOT NULL DEFAULT 1,                       -- +1 per write (trigger)
  written_xid xid8   NOT NULL DEFAULT pg_current_xact_id()     -- the writing transaction (trigger)
);
-- One binding per client and subnet (RFC 2131 §4.3.1: a client has one address per subnet).
CREATE UNIQUE INDEX leases_one_binding_per_client ON leases (subnet_id, client_key) WHERE state = 'bound';
CREATE INDEX leases_by_written_xid ON leases (written_xid);

CREATE FUNCTION lh_stamp_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.written_xid := pg_current_xact_id();
  NEW.version := CASE WHEN TG_OP = 'UPDATE' THEN OLD.version + 1 ELSE 1 END;
  RETURN NEW;
END $$;
CREATE TRIGGER leases_stamp BEFORE INSERT OR UPDATE ON leases FOR EACH ROW EXECUTE FUNCTION lh_stamp_lease();

-- Addresses deleted (the server never deletes a lease; an operator may), so readers of changes see them go.
CREATE TABLE lease_tombstones (
  ip          inet NOT NULL,
  written_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lease_tombstones_by_written_xid ON lease_tombstones (written_xid);
CREATE FUNCTION lh_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lease_tombstones (ip) VALUES (OLD.ip);
  RETURN NULL;
END $$;
CREATE TRIGGER leases_tombstone AFTER DELETE ON leases FOR EACH ROW EXECUTE FUNCTION lh_tombstone();

-- One notification per statement (not per row: NOTIFY takes a global lock at commit), naming the writer.
CREATE FUNCTION lh_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], coalesce(current_setting('leasehold.server', true), ''));
  RETURN NULL;
END $$;
CREATE TRIGGER leases_notify AFTER INSERT OR UPDATE OR DELETE ON leases
  FOR EACH STATEMENT EXECUTE FUNCTION lh_notify('leasehold_leases');

-- Reservations made through the control API (server/leases/reservation.ts):
-- one per address and subnet, one per client and subnet, each naming its
-- client exactly one way, as SQLite's table does.
CREATE TABLE reservations (
  subnet_id  text NOT NULL,
  ip         inet NOT NULL CHECK (family(ip) = 4 AND masklen(ip) = 32),
  hw_address text,
  client_id  text,
  hostname   text,
  client_key text NOT NULL,   -- id:<hex> | hw:<mac>, as clientKeyFor()
  PRIMARY KEY (subnet_id, ip),
  UNIQUE (subnet_id, client_key),
  CHECK ((hw_address IS NULL) <> (client_id IS NULL))
);

-- A row in the StoredReservation shape (absent fields left out).
CREATE FUNCTION lh_reservation_json(r reservations) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('subnetId', r.subnet_id, 'ip', host(r.ip),
    'hwAddress', r.hw_address, 'clientId', r.client_id, 'hostname', r.hostname))
$$;

-- A StoredReservation (JSON) inserted or replaced by (subnet, address).
-- Replaced by address only, as SQLite does: a row of the same client at
-- another address makes the unique constraint fail the change, it is not
-- silently dropped. The writer sends the key (clientKeyFor(), computed once, in TypeScript).
CREATE FUNCTION lh_reserve(p jsonb) RETURNS void LANGUAGE sql AS $$
  INSERT INTO reservations (subnet_id, ip, hw_address, client_id, hostname, client_key)
  VALUES (p ->> 'subnetId', (p ->> 'ip')::inet, p ->> 'hwAddress', p ->> 'clientId', p ->> 'hostname', p ->> 'clientKey')
  ON CONFLICT (subnet_id, ip) DO UPDATE SET
    hw_address = EXCLUDED.hw_address, client_id = EXCLUDED.client_id, hostname = EXCLUDED.hostname, client_key = EXCLUDED.client_key
$$;
CREATE TRIGGER reservations_notify AFTER INSERT OR UPDATE OR DELETE ON reservations
  FOR EACH STATEMENT EXECUTE FUNCTION lh_notify('leasehold_reservations');

CREATE SEQUENCE dns_queue_seq;
CREATE TABLE dns_queue (
  seq           bigint PRIMARY KEY DEFAULT nextval('dns_queue_seq'),
  fqdn          text NOT NULL,
  change        jsonb NOT NULL,   -- the DnsChange without seq
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  claimed_by    text,             -- the server sending it, until claimed_until
  claimed_until timestamptz,
  attempts      int NOT NULL DEFAULT 0,
  not_before    timestamptz,      -- back-off shared by whoever sends it next
  parked_reason text              -- refused for good: not sent until unparked
);
CREATE INDEX dns_queue_by_name ON dns_queue (fqdn, seq);
CREATE TRIGGER dns_queue_notify AFTER INSERT OR UPDATE OR DELETE ON dns_queue
  FOR EACH STATEMENT EXECUTE FUNCTION lh_notify('leasehold_dns');

CREATE TABLE servers (
  server_name   text PRIMARY KEY,
  incarnation   uuid NOT NULL,    -- random per process start: a second process with the same name shows
  state         text NOT NULL CHECK (state IN ('starting', 'active', 'stopped')),
  addresses     inet[] NOT NULL DEFAULT '{}',
  started_at    timestamptz NOT NULL DEFAULT now(),
  last_seen     timestamptz NOT NULL DEFAULT now(),
  serving       text NOT NULL DEFAULT '',
  clock_skew_ms integer,
  software      text
);

-- A row in the Lease shape of server/leases/lease.ts (absent fields left out).
CREATE FUNCTION lh_lease_json(l leases) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'ip', host(l.ip), 'clientKey', l.client_key, 'hwAddress', l.hw_address, 'clientId', l.client_id,
    'hostname', l.hostname, 'subnetId', l.subnet_id, 'state', l.state, 'grantedAt', l.granted_at,
    'expiresAt', l.expires_at, 'fqdn', l.fqdn, 'ipv6', l.ipv6))
$$;

-- A Lease (JSON) as a row, written by p_server unless it says who granted it;
-- version and written_xid are set by the stamp trigger.
CREATE FUNCTION lh_lease_from_json(p jsonb, p_server text) RETURNS leases LANGUAGE sql STABLE AS $$
  SELECT (p ->> 'ip')::inet, p ->> 'clientKey', p ->> 'hwAddress', p ->> 'clientId', p ->> 'hostname', p ->> 'subnetId',
         p ->> 'state', (p ->> 'grantedAt')::bigint, (p ->> 'expiresAt')::bigint, p ->> 'fqdn', p ->> 'ipv6',
         coalesce(p ->> 'grantedBy', p_server), 1::bigint, pg_current_xact_id()
$$;

-- expectationHolds() of server/leases/lease-expectation.ts, for the row at
-- the address (p_found false: there is none). The other half of 'bind' (no
-- second binding of the client) is in lh_commit_group.
CREATE FUNCTION lh_expectation_holds(p_expect jsonb, p_client_key text, p_found boolean, p_cur leases, p_now bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_expect ->> 'kind'
    WHEN 'any' THEN true
    WHEN 'bind' THEN NOT p_found
      OR (p_cur.client_key = p_client_key AND p_cur.state <> 'declined')
      OR lh_reusable(p_cur.state, p_cur.expires_at, p_now)
    WHEN 'held' THEN p_found AND p_cur.client_key = p_expect ->> 'clientKey'
      AND (p_expect ->> 'state' IS NULL OR p_cur.state = p_expect ->> 'state')
    WHEN 'lapsed' THEN p_found AND p_cur.state = p_expect ->> 'state'
      AND p_cur.expires_at = (p_expect ->> 'expiresAt')::bigint AND p_cur.expires_at <= p_now
    ELSE false
  END
$$;

-- A group of ConditionalLeaseChanges (lease-store.ts, as JSON) in one
-- transaction: one call, one round trip, durable when it returns
-- (synchronous_commit=on). Returns one CommitOutcome per change, in order.
-- p_claim_ms: DNS rows the group queues are claimed by p_server for that
-- long (NULL: left unclaimed).
CREATE FUNCTION lh_commit_group(p_server text, p_claim_ms bigint, p_changes jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now      bigint := lh_now_ms();
  v_lock     record;
  v_change   jsonb;
  v_put      jsonb;
  v_lease    jsonb;
  v_cur      leases%ROWTYPE;
  v_found    boolean;
  v_other    leases%ROWTYPE;
  v_ok       boolean;
  v_puts     inet[];
  v_removes  inet[];
  v_leaving  inet[];
  v_current  jsonb;
  v_enqueued jsonb;
  v_dns      jsonb;
  v_seq      bigint;
  v_results  jsonb := '[]'::jsonb;
BEGIN
  PERFORM set_config('leasehold.server', p_server, true);
  -- Every address the group writes, and every client it binds, locked in
  -- one global order before anything is read: groups of several servers
  -- cannot deadlock, a row not yet there is protected like one that is,
  -- and what is read below cannot change before COMMIT. (Each statement
  -- below takes a new snapshot, after the locks were granted.)
  FOR v_lock IN
    SELECT DISTINCT k.class, k.key FROM (
      SELECT ${LOCK_CLASS_ADDRESS} AS class, ((a.ip - '0.0.0.0'::inet) - 2147483648)::int4 AS key
        FROM (SELECT (p -> 'lease' ->> 'ip')::inet AS ip
                FROM jsonb_array_elements(p_changes) c, jsonb_array_elements(coalesce(c -> 'put', '[]')) p
              UNION
              SELECT r::inet FROM jsonb_array_elements(p_changes) c, jsonb_array_elements_text(coalesce(c -> 'remove', '[]')) r) a
      UNION
      SELECT ${LOCK_CLASS_CLIENT}, hashtext((p -> 'lease' ->> 'subnetId') || '|' || (p -> 'lease' ->> 'clientKey'))
        FROM jsonb_array_elements(p_changes) c, jsonb_array_elements(coalesce(c -> 'put', '[]')) p
       WHERE p -> 'expect' ->> 'kind' = 'bind' OR p -> 'lease' ->> 'state' = 'bound'
    ) k ORDER BY k.class, k.key
  LOOP
    PERFORM pg_advisory_xact_lock(v_lock.class, v_lock.key);
  END LOOP;

  -- Each change in call order, whole or not at all.
  FOR v_change IN SELECT value FROM jsonb_array_elements(p_changes) LOOP
    v_ok := true;
    v_current := '{}'::jsonb;
    v_puts := ARRAY(SELECT (p -> 'lease' ->> 'ip')::inet FROM jsonb_array_elements(coalesce(v_change -> 'put', '[]')) p);
    v_removes := ARRAY(SELECT r::inet FROM jsonb_array_elements_text(coalesce(v_change -> 'remove', '[]')) r);
    v_leaving := v_removes || ARRAY(SELECT (p -> 'lease' ->> 'ip')::inet FROM jsonb_array_elements(coalesce(v_change -> 'put', '[]')) p
                                     WHERE p -> 'lease' ->> 'state' <> 'bound');
    FOR v_put IN SELECT value FROM jsonb_array_elements(coalesce(v_change -> 'put', '[]')) LOOP
      v_lease := v_put -> 'lease';
      SELECT * INTO v_cur FROM leases WHERE ip = (v_lease ->> 'ip')::inet;
      v_found := FOUND;
      IF v_found THEN v_current := v_current || jsonb_build_object(host(v_cur.ip), lh_lease_json(v_cur)); END IF;
      IF NOT lh_expectation_holds(v_put -> 'expect', v_lease ->> 'clientKey', v_found, v_cur, v_now) THEN
        v_ok := false;
      END IF;
      IF v_put -> 'expect' ->> 'kind' = 'bind' THEN
        FOR v_other IN SELECT * FROM leases o
                        WHERE o.subnet_id = v_lease ->> 'subnetId' AND o.client_key = v_lease ->> 'clientKey'
                          AND o.state = 'bound' AND o.ip <> (v_lease ->> 'ip')::inet AND NOT (o.ip = ANY (v_leaving)) LOOP
          v_ok := false;
          v_current := v_current || jsonb_build_object(host(v_other.ip), lh_lease_json(v_other));
        END LOOP;
      END IF;
    END LOOP;

    IF NOT v_ok THEN
      v_results := v_results || jsonb_build_array(jsonb_build_object('kind', 'lost',
        'current', (SELECT coalesce(jsonb_agg(value ORDER BY key), '[]'::jsonb) FROM jsonb_each(v_current))));
      CONTINUE;
    END IF;

    -- Puts before removes (a removed address that is also put ends up
    -- gone), the last put of an address winning; removes of other
    -- addresses first and rows leaving 'bound' before rows entering it, so
    -- the one-binding-per-client index holds after every statement.
    DELETE FROM leases WHERE ip = ANY (v_removes) AND NOT (ip = ANY (v_puts));
    FOR v_lease IN
      SELECT last.l FROM (
        SELECT DISTINCT ON ((p.value -> 'lease' ->> 'ip')::inet) p.value -> 'lease' AS l, p.ordinality AS n
          FROM jsonb_array_elements(coalesce(v_change -> 'put', '[]')) WITH ORDINALITY p
         ORDER BY (p.value -> 'lease' ->> 'ip')::inet, p.ordinality DESC) last
       ORDER BY (last.l ->> 'state') = 'bound', last.n
    LOOP
      INSERT INTO leases AS l SELECT r.* FROM lh_lease_from_json(v_lease, p_server) r
      ON CONFLICT (ip) DO UPDATE SET
        client_key = EXCLUDED.client_key, hw_address = EXCLUDED.hw_address, client_id = EXCLUDED.client_id,
        hostname = EXCLUDED.hostname, subnet_id = EXCLUDED.subnet_id, state = EXCLUDED.state,
        granted_at = EXCLUDED.granted_at, expires_at = EXCLUDED.expires_at, fqdn = EXCLUDED.fqdn,
        ipv6 = EXCLUDED.ipv6, granted_by = EXCLUDED.granted_by;
    END LOOP;
    DELETE FROM leases WHERE ip = ANY (v_removes) AND ip = ANY (v_puts);

    v_enqueued := '[]'::jsonb;
    FOR v_dns IN SELECT value FROM jsonb_array_elements(coalesce(v_change -> 'enqueue', '[]')) LOOP
      -- Numbered by the writer when it says so (one server numbers its own
      -- queue), else by the sequence; the sequence then never hands out a
      -- number already used.
      v_seq := coalesce((v_dns ->> 'seq')::bigint, nextval('dns_queue_seq'));
      IF v_dns ? 'seq' THEN
        PERFORM setval('dns_queue_seq', v_seq) FROM dns_queue_seq
         WHERE v_seq > CASE WHEN is_called THEN last_value ELSE last_value - 1 END;
      END IF;
      INSERT INTO dns_queue (seq, fqdn, change, created_by, claimed_by, claimed_until)
      VALUES (v_seq, v_dns ->> 'fqdn', v_dns - 'seq', p_server,
              CASE WHEN p_claim_ms IS NOT NULL THEN p_server END,
              CASE WHEN p_claim_ms IS NOT NULL THEN now() + p_claim_ms * interval '1 millisecond' END)
      ON CONFLICT (seq) DO UPDATE SET
        fqdn = EXCLUDED.fqdn, change = EXCLUDED.change, created_by = EXCLUDED.created_by, created_at = now(),
        claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until,
        attempts = 0, not_before = NULL, parked_reason = NULL;
      v_enqueued := v_enqueued || jsonb_build_array(jsonb_build_object('seq', v_seq, 'headOfName',
        NOT EXISTS (SELECT 1 FROM dns_queue o WHERE o.fqdn = v_dns ->> 'fqdn' AND o.seq < v_seq)));
    END LOOP;
    -- A change is finished by whoever holds its claim, or by anyone once nobody does.
    DELETE FROM dns_queue
     WHERE seq IN (SELECT value::bigint FROM jsonb_array_elements_text(coalesce(v_change -> 'dequeue', '[]')))
       AND (claimed_by IS NULL OR claimed_by = p_server OR claimed_until < now());
    -- Reservations after the queue, reserves before unreserves (LeaseChange's order).
    PERFORM lh_reserve(r) FROM jsonb_array_elements(coalesce(v_change -> 'reserve', '[]')) r;
    DELETE FROM reservations x USING jsonb_array_elements(coalesce(v_change -> 'unreserve', '[]')) u
     WHERE x.subnet_id = u ->> 'subnetId' AND x.ip = (u ->> 'ip')::inet;
    v_results := v_results || jsonb_build_array(jsonb_build_object('kind', 'committed', 'enqueued', v_enqueued));
  END LOOP;
  RETURN v_results;
END $$;
`;

/**
 * Version 2: heartbeats in one round trip each. Version 1 made the
 * `servers` table; these functions are the only writers of it, so every
 * age is measured with the database's clock (now()), never a server's.
 */
const V2 = `
-- Index for the peers' read: live rows are the recently seen ones.
CREATE INDEX servers_by_last_seen ON servers (last_seen);

-- Takes the name for a new process (incarnation): only when nobody holds
-- it, it was stopped cleanly, or its holder has not been seen for
-- p_stale_ms (it is dead: its peers have already taken its buckets).
-- Returns the age in ms of the holder that keeps it, or NULL when taken.
CREATE FUNCTION lh_claim_server(p_name text, p_incarnation uuid, p_addresses inet[], p_software text, p_stale_ms bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE v_age integer;
BEGIN
  INSERT INTO servers AS s (server_name, incarnation, state, addresses, software)
  VALUES (p_name, p_incarnation, 'starting', p_addresses, p_software)
  ON CONFLICT (server_name) DO UPDATE
     SET incarnation = EXCLUDED.incarnation, state = 'starting', addresses = EXCLUDED.addresses,
         software = EXCLUDED.software, started_at = now(), last_seen = now(), serving = '', clock_skew_ms = NULL
   WHERE s.state = 'stopped' OR s.last_seen < now() - make_interval(secs => p_stale_ms / 1000.0);
  IF FOUND THEN RETURN NULL; END IF;
  SELECT (extract(epoch FROM now() - last_seen) * 1000)::integer INTO v_age FROM servers WHERE server_name = p_name;
  RETURN coalesce(v_age, 0);
END $$;

-- One heartbeat: stamps our row (only while it is still this process's:
-- a second process under our name took it otherwise), then returns every
-- row with its age. No rows at all means our row is gone or taken.
CREATE FUNCTION lh_heartbeat(p_name text, p_incarnation uuid, p_state text, p_serving text, p_clock_skew_ms integer)
RETURNS TABLE (server_name text, state text, addresses inet[], age_ms integer, db_ms bigint, serving text)
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE servers s SET last_seen = now(), state = p_state, serving = p_serving, clock_skew_ms = p_clock_skew_ms
   WHERE s.server_name = p_name AND s.incarnation = p_incarnation;
  IF NOT FOUND THEN RETURN; END IF;
  RETURN QUERY
    SELECT s.server_name, s.state, s.addresses, (extract(epoch FROM now() - s.last_seen) * 1000)::integer,
           (extract(epoch FROM clock_timestamp()) * 1000)::bigint, s.serving
      FROM servers s ORDER BY s.server_name;
END $$;
`;

/**
 * Several servers sending one DNS queue and sharing the DECLINE
 * quarantine. The claim columns are version 1's; claims name the server
 * by its text name (no reference to the servers table). Additive: older
 * servers run on it.
 */
const V3 = `
-- The claim pass reads each name's head and the claims; a server's renewal reads its own.
CREATE INDEX dns_queue_claimed_by ON dns_queue (claimed_by, seq) WHERE claimed_by IS NOT NULL;
-- Every server reads the quarantined addresses (a DECLINE seen by any of them).
CREATE INDEX leases_quarantined ON leases (expires_at) WHERE state = 'declined';
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'leases (one binding per client), reservations, dns_queue with claims, servers, lh_commit_group',
    compatibleFrom: 1,
    sql: V1,
  },
  {
    version: 2,
    description: 'servers heartbeats: lh_claim_server, lh_heartbeat (ages by the database clock)',
    // Additive: version-1 servers never call the functions.
    compatibleFrom: 1,
    sql: V2,
  },
  {
    version: 3,
    description: 'DNS queue claims index, shared DECLINE quarantine index',
    compatibleFrom: 1,
    sql: V3,
  },
];

/** What breaks the rules above, one line each (empty when the list is sound). */
export function migrationOrderProblems(migrations: readonly Migration[]): string[] {
  const problems: string[] = [];
  if (migrations.length === 0) return ['no migrations'];
  migrations.forEach((m, i) => {
    const where = `migration ${i + 1} (version ${m.version})`;
    if (m.version !== i + 1) problems.push(`${where}: versions must be 1, 2, 3… in order`);
    if (m.description.trim() === '') problems.push(`${where}: no description`);
    if (!Number.isInteger(m.compatibleFrom) || m.compatibleFrom < 1 || m.compatibleFrom > m.version) {
      problems.push(`${where}: compatibleFrom must be from 1 to its own version, got ${m.compatibleFrom}`);
    }
    if (i > 0 && m.compatibleFrom < migrations[i - 1].compatibleFrom) {
      problems.push(`${where}: compatibleFrom ${m.compatibleFrom} is lower than the previous migration's ${migrations[i - 1].compatibleFrom}`);
    }
    if (m.sql.trim() === '') problems.push(`${where}: no SQL`);
  });
  return problems;
}

/** The schema this server writes, and the oldest one whose servers can run on it. */
export function targetSchema(migrations: readonly Migration[] = MIGRATIONS): { version: number; compatibleFrom: number } {
  const last = migrations[migrations.length - 1];
  return { version: last.version, compatibleFrom: last.compatibleFrom };
}
