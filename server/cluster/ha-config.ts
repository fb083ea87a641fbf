/**
 * The `ha` section: this server's name among several sharing one
 * PostgreSQL lease database, and the timers of heartbeats, fencing and
 * takeover. config/leasehold.example.yaml documents each field.
 */
export interface HaConfig {
  /** Unique among the servers on the database; the `servers` row and `leases.granted_by`. */
  serverName: string;
  /** How often this server writes its heartbeat and reads its peers'. */
  heartbeatIntervalMs: number;
  /** Own heartbeat not written for this long → answer nothing (fenced). */
  fenceAfterMs: number;
  /** A peer's heartbeat older than this (database clock) → its buckets are ours. */
  partnerDownAfterMs: number;
  /** RFC 3074 service delay: answer any client whose `secs` reached this; 0 = off. */
  loadBalanceMaxSecs: number;
  /** |local − database clock| above this: warn. */
  maxClockSkewMs: number;
  /** |local − database clock| above this: fenced (expiries are compared across clocks). */
  fenceOnClockSkewMs: number;
}

export const HA_DEFAULTS = {
  heartbeatIntervalMs: 1000,
  fenceAfterMs: 3000,
  partnerDownAfterMs: 5000,
  loadBalanceMaxSecs: 10,
  maxClockSkewMs: 2000,
  fenceOnClockSkewMs: 10000,
} as const;

export const HA_LIMITS = {
  heartbeatIntervalMs: { min: 100, max: 60_000 },
  fenceAfterMs: { min: 200, max: 600_000 },
  partnerDownAfterMs: { min: 300, max: 600_000 },
  loadBalanceMaxSecs: { min: 0, max: 65535 },
  maxClockSkewMs: { min: 10, max: 600_000 },
  fenceOnClockSkewMs: { min: 10, max: 600_000 },
} as const;
