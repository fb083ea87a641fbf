import { randomUUID } from 'node:crypto';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { LoadBalanceView } from '../dhcp4/load-balance.ts';
import type { HeartbeatResult, HeartbeatRow, ServerRegistry } from '../leases/pg/pg-server-registry.ts';
import type { HaConfig } from './ha-config.ts';
import { bucketRanges, computeMembership, fenceDecision, gainsBuckets, type FenceDecision, type Membership } from './membership.ts';

/**
 * This server among several on one PostgreSQL database: claims its name
 * in `servers`, writes its heartbeat every `heartbeatIntervalMs`, reads
 * its peers' rows, and from them decides which RFC 3074 buckets it
 * answers (membership.ts) and whether it must answer nothing (fenced).
 * Started after the store and before DHCPv4; the DHCPv4 edge asks it
 * before every request (load-balance.ts).
 */

export interface ClusterServiceDeps {
  config: HaConfig;
  /** The heartbeat table's connection (its own, not the commit path's). */
  openRegistry: () => Promise<ServerRegistry>;
  /** Our server identifiers, shown in `servers.addresses`. */
  addresses: () => string[];
  logger: Logger;
  /** Monotonic ms (fencing: a wall clock stepped back must not unfence). */
  monotonicNow?: () => number;
  /** Wall-clock ms since the epoch (the skew against the database's clock). */
  wallNow?: () => number;
  /**
   * Awaited before this server answers buckets it did not (a partner's
   * heartbeat ran out, or its own first share): the DHCPv4 service learns
   * the bindings the others wrote, so their clients get their own
   * addresses back (RFC 2131 §4.3.1) instead of a new offer the database
   * refuses and a NAK. A failure is logged; the takeover goes ahead (the
   * database still decides every binding).
   */
  beforeTakeover?: () => Promise<void>;
}

/** Another process runs under our `ha.serverName`. */
export class ServerNameTakenError extends LeaseholdError {
  readonly code = 'E_SERVER_NAME_TAKEN';
}

/** One server as this one last read it from `servers` (the control API's status-get). */
export interface ClusterPeerStatus {
  serverName: string;
  state: HeartbeatRow['state'];
  addresses: string[];
  /** How old its heartbeat is now: the database's age at our last read, plus the time since. */
  heartbeatAgeMs: number;
  /** How many of the 256 RFC 3074 buckets it answers as we split them (0 when it is not live). */
  buckets: number;
  /** Those buckets as ranges, `0-2,5,9-11`. */
  bucketRanges: string;
}

/** This server's view of the cluster, for status-get. */
export interface ClusterStatus {
  serverName: string;
  fenced: boolean;
  fenceReason?: string;
  /** The live servers, sorted by name. */
  live: string[];
  /** When our own heartbeat was last written (ms ago, local monotonic clock); undefined before the first. */
  ownHeartbeatAgeMs: number | undefined;
  /** Every row of `servers`, ourselves included, sorted by name. */
  servers: ClusterPeerStatus[];
}

export class ClusterService {
  readonly name = 'cluster';
  readonly #deps: ClusterServiceDeps;
  readonly #incarnation = randomUUID();
  readonly #now: () => number;
  readonly #wallNow: () => number;
  #registry: ServerRegistry | undefined;
  #timer: NodeJS.Timeout | undefined;
  #active = false;
  #stopping = false;
  /** Our name was taken by another process: fenced for good. */
  #nameLost = false;
  #beating: Promise<void> | undefined;
  #lastOkAt: number | undefined;
  #skewMs: number | undefined;
  #skewWarnedAt = -Infinity;
  #membership: Membership;
  #lastDecision: FenceDecision = { fenced: true, reason: 'not started' };
  /** The rows of the last heartbeat's read, and when (local monotonic ms) it answered. */
  #rows: readonly HeartbeatRow[] = [];
  #rowsReadAt = 0;

  constructor(deps: ClusterServiceDeps) {
    this.#deps = deps;
    this.#now = deps.monotonicNow ?? (() => performance.now());
    this.#wallNow = deps.wallNow ?? Date.now;
    this.#membership = computeMembership([], { serverName: deps.config.serverName, active: false }, deps.config);
  }

  /** What the DHCPv4 edge needs, read live at every request. */
  view(grantedByUs: (ip: string) => boolean): LoadBalanceView {
    const fenced = () => this.fenced;
    return {
      get fenced() {
        return fenced();
      },
      servesBucket: (b) => this.#membership.servesBucket(b),
      loadBalanceMaxSecs: this.#deps.config.loadBalanceMaxSecs,
      grantedByUs,
    };
  }

  get fenced(): boolean {
    return this.#decide().fenced;
  }

  get membership(): Membership {
    return this.#membership;
  }

  /** Who is live, who answers which buckets, and how old each heartbeat is, as of now. */
  status(): ClusterStatus {
    const decision = this.#decide();
    const now = this.#now();
    const m = this.#membership;
    const servers = this.#rows
      .map((row): ClusterPeerStatus => {
        const index = m.live.indexOf(row.serverName);
        return {
          serverName: row.serverName,
          state: row.state,
          addresses: [...row.addresses],
          heartbeatAgeMs: Math.max(0, Math.round(row.ageMs + now - this.#rowsReadAt)),
          buckets: index < 0 ? 0 : m.owners.reduce((n, o) => (o === index ? n + 1 : n), 0),
          bucketRanges: index < 0 ? '' : bucketRanges(m.owners, index),
        };
      })
      .sort((a, b) => (a.serverName < b.serverName ? -1 : a.serverName > b.serverName ? 1 : 0));
    return {
      serverName: this.#deps.config.serverName,
      fenced: decision.fenced,
      ...(decision.fenced && { fenceReason: decision.reason }),
      live: [...m.live],
      ownHeartbeatAgeMs: this.#lastOkAt === undefined ? undefined : Math.round(now - this.#lastOkAt),
      servers,
    };
  }

  async start(): Promise<void> {
    const { config } = this.#deps;
    const registry = await this.#deps.openRegistry();
    try {
      const holderAge = await registry.claim(config.serverName, this.#incarnation, this.#deps.addresses(), config.partnerDownAfterMs);
      if (holderAge !== undefined) {
        throw new ServerNameTakenError(`ha.serverName ${config.serverName} is in use by a running server (last seen ${(holderAge / 1000).toFixed(1)} s ago)`);
      }
      this.#lastOkAt = this.#now();
    } catch (err) {
      await registry.close().catch(() => undefined);
      throw err;
    }
    this.#registry = registry;
    // Read the peers once (as `starting`: not live to them yet) so the first request already sees the split;
    // beat from now on, so the other services' start-up cannot outlast fenceAfterMs.
    await this.#beat();
    this.#timer = setInterval(() => this.#tick(), this.#deps.config.heartbeatIntervalMs);
    this.#timer.unref();
  }

  /** Every service has started: announce ourselves active and keep the heartbeat going. */
  serve(): void {
    this.#active = true;
    if (this.#beating === undefined) void this.#beat();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await this.#beating;
    const registry = this.#registry;
    this.#registry = undefined;
    if (!registry) return;
    // Peers take our buckets at their next heartbeat instead of after partnerDownAfterMs.
    await registry.heartbeat(this.#deps.config.serverName, this.#incarnation, 'stopped', '', this.#skewMs).catch((err: unknown) => {
      this.#deps.logger.warn('ha-stop-not-recorded', { error: reasonOf(err) });
    });
    await registry.close();
  }

  #tick(): void {
    this.#decide();
    // One heartbeat at a time: one stuck on a dead connection is not joined by more.
    if (this.#beating === undefined) void this.#beat();
  }

  #beat(): Promise<void> {
    const run = async () => {
      const registry = this.#registry;
      if (!registry || this.#stopping || this.#nameLost) return;
      const { config, logger } = this.#deps;
      const sentAt = this.#now();
      const sentWall = this.#wallNow();
      const state = this.#active ? 'active' : 'starting';
      let result: HeartbeatResult | 'lost';
      try {
        result = await registry.heartbeat(config.serverName, this.#incarnation, state, this.#servingText(), this.#skewMs);
      } catch (err) {
        logger.debug('ha-heartbeat-failed', { error: reasonOf(err) });
        this.#decide();
        return;
      }
      if (result === 'lost') {
        this.#nameLost = true;
        logger.error('ha-server-name-lost', { serverName: config.serverName, problem: 'another process took ha.serverName; answering nothing' });
        this.#decide();
        return;
      }
      const receivedAt = this.#now();
      // RTT-halved estimate of local − database clock.
      this.#skewMs = Math.round(sentWall + (receivedAt - sentAt) / 2 - result.dbMs);
      if (Math.abs(this.#skewMs) > config.maxClockSkewMs && receivedAt - this.#skewWarnedAt >= config.heartbeatIntervalMs * 10) {
        this.#skewWarnedAt = receivedAt;
        logger.warn('clock-skew', { skewMs: this.#skewMs, maxClockSkewMs: config.maxClockSkewMs });
      }
      this.#lastOkAt = sentAt;
      this.#rows = result.rows;
      this.#rowsReadAt = receivedAt;
      const before = this.#membership;
      const next = computeMembership(result.rows, { serverName: config.serverName, active: this.#active }, config);
      if (this.#deps.beforeTakeover && gainsBuckets(before, next)) {
        await this.#deps.beforeTakeover().catch((err: unknown) => logger.warn('ha-takeover-read-failed', { error: reasonOf(err) }));
      }
      this.#membership = next;
      if (before.live.join(',') !== this.#membership.live.join(',')) {
        logger.info('ha-membership', { live: this.#membership.live, buckets: this.#membership.ourShare });
      }
      this.#decide();
    };
    const p = run().finally(() => {
      if (this.#beating === p) this.#beating = undefined;
    });
    this.#beating = p;
    return p;
  }

  /** The fence decision now; a change is logged once. */
  #decide(): FenceDecision {
    const decision: FenceDecision = this.#nameLost
      ? { fenced: true, reason: 'another process took ha.serverName' }
      : fenceDecision(
          { nowMs: this.#now(), lastHeartbeatOkMs: this.#lastOkAt, databaseLost: this.#registry === undefined && !this.#stopping, clockSkewMs: this.#skewMs },
          this.#deps.config,
        );
    if (decision.fenced !== this.#lastDecision.fenced) {
      if (decision.fenced) this.#deps.logger.warn('ha-fenced', { reason: decision.reason });
      else this.#deps.logger.info('ha-unfenced', { buckets: this.#membership.ourShare });
    }
    this.#lastDecision = decision;
    return decision;
  }

  /** `servers.serving`: how many buckets, for `servers` status and the tests. */
  #servingText(): string {
    return this.#active ? `${this.#membership.ourShare} buckets` : '';
  }
}
