import type { ConfigIssue } from '../../lib/config/field-reader.ts';
import type { ClusterStatus } from '../cluster/cluster-service.ts';
import type { ServerConfig } from '../config/config.ts';
import type { MetricFamily } from '../ops/metric-catalog.ts';
import type { Counters } from './counters.ts';
import type { DdnsService } from './ddns-service.ts';
import type { Dhcp4Service } from './dhcp4-service.ts';

/** What a reload came to: applied, or refused with the issues that say why (the running configuration stays). */
export type ReloadResult = { applied: true } | { applied: false; reason: 'needs-restart'; issues: ConfigIssue[] };

/**
 * The appliance as the control API and the metrics endpoint see it
 * (appliance.ts builds it): the running configuration, the services they
 * report on and change, the one counters registry, reload, metrics, health.
 */
export interface ManagedAppliance {
  readonly counters: Counters;
  readonly ddns: DdnsService | undefined;
  readonly dhcp4: Dhcp4Service;
  /** With `ha`: this server among the others on the shared database. */
  readonly cluster?: { status(): ClusterStatus } | undefined;
  /** The configuration running now (the last one a reload applied). */
  readonly config: ServerConfig;
  /** When `config` was loaded or last reloaded (ms). */
  readonly configLoadedAt: number;
  readonly startedAt: number;
  /**
   * Applies a validated configuration without a restart, when only what a
   * reload may change changed (config/reload-scope.ts): subnets are served
   * anew, and no lease, held offer or queued DNS change is dropped.
   */
  reload(next: ServerConfig): ReloadResult;
  /** Every metric family of this moment (/metrics, statistic-get-all). */
  metrics(): MetricFamily[];
  /** Healthy when the DHCP sockets are open, the store answered its last commit and a configuration is loaded; else what is wrong. */
  health(): { healthy: boolean; problems: string[] };
}
