import { systemClock, type Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { ClusterService } from '../cluster/cluster-service.ts';
import type { ServerConfig } from '../config/config.ts';
import { changesNeedingRestart } from '../config/reload-scope.ts';
import { subnetDdnsById, type SubnetDdnsConfig } from '../ddns/ddns-config.ts';
import type { CommitObserver, LeaseStore } from '../leases/lease-store.ts';
import type { ServerRegistry } from '../leases/pg/pg-server-registry.ts';
import { openLeaseStore } from '../leases/open-lease-store.ts';
import { isSharedStore } from '../leases/lease-store-config.ts';
import { metricFamilies, type ApplianceGauges, type MetricFamily } from '../ops/metric-catalog.ts';
import { Counters } from './counters.ts';
import { DdnsService, type DdnsServiceDeps } from './ddns-service.ts';
import { Dhcp4Service, type Dhcp4ServiceDeps } from './dhcp4-service.ts';
import type { ManagedAppliance, ReloadResult } from './managed-appliance.ts';
import { OpsService, type OpsServiceDeps } from './ops-service.ts';
import { RaService } from './ra-service.ts';
import { ServiceGroup, type Service } from './service.ts';
import { StoreCommitMonitor } from './store-commit-monitor.ts';
import { StoreService } from './store-service.ts';

export interface ApplianceOptions {
  logger: Logger;
  clock?: Clock;
  /** DHCPv4 server port (67; tests use others). */
  dhcp4Port?: number;
  /** The DHCPv4 sockets (unit tests give their own). */
  openTransport?: Dhcp4ServiceDeps['openTransport'];
  /** The lease store (default: the one `leaseStore` names); given the commit observer, if any. */
  openStore?: (observer?: CommitObserver) => LeaseStore | Promise<LeaseStore>;
  /** Test seams of the DDNS service. */
  ddns?: Pick<DdnsServiceDeps, 'keyCheckIntervalMs' | 'dnsServices'>;
  /**
   * Reads the configuration file again (`config-reload`, `config-test`
   * without arguments, SIGHUP); throws ConfigError. Without it the control
   * API cannot reload.
   */
  loadConfig?: () => ServerConfig;
  /** Leave out the control API and metrics endpoint (unit tests of the other services). */
  withoutOps?: boolean;
  /** Test seams of the ops service. */
  ops?: Pick<OpsServiceDeps, 'httpPort'>;
  /** The `servers` heartbeat table (default: on the PostgreSQL store `leaseStore` names). */
  openServerRegistry?: () => Promise<ServerRegistry>;
}

/**
 * The whole server as configured: store → cluster (with `ha`) → ddns → dhcp4 → ra → ops,
 * started in that order (each uses the ones before it), stopped in
 * reverse, with one counters registry every service counts into and the
 * control API and /metrics read.
 */
export interface Appliance extends ManagedAppliance {
  readonly store: StoreService;
  readonly ra: RaService | undefined;
  readonly ops: OpsService | undefined;
  /** The services in start order. */
  readonly services: readonly Service[];
  /** Rejects with the failing service's own error, after stopping those already started. */
  start(): Promise<void>;
  /** Idempotent; rejects with a ServiceStopError when some service did not stop cleanly. */
  stop(): Promise<void>;
}

export function buildAppliance(initial: ServerConfig, opts: ApplianceOptions): Appliance {
  const { logger } = opts;
  const clock = opts.clock ?? systemClock;
  const counters = new Counters();
  let config = initial;
  let configLoadedAt = clock.now();
  const startedAt = clock.now();
  // Every group commit counted (its latency and size histograms for /metrics); a failing store logged once per interval, not once per request.
  const commitMonitor = new StoreCommitMonitor(counters, logger, clock);
  const store = new StoreService(opts.openStore ?? ((observer) => openLeaseStore(config.leaseStore, { logger, observer, serverName: config.ha?.serverName })), commitMonitor);
  // DDNS reads each subnet's naming from this map; a reload refills it in place.
  const subnetNaming = new Map<string, SubnetDdnsConfig>(subnetDdnsById(initial.subnets));
  const ddns: DdnsService | undefined = initial.ddns?.enabled
    ? new DdnsService(initial.ddns, {
        subnets: subnetNaming,
        store: () => store.store,
        leases: () => dhcp4.leases(),
        sharedQueue: isSharedStore(initial.leaseStore),
        clock,
        logger,
        counters,
        ...opts.ddns,
      })
    : undefined;
  // dhcp4 is created below; the cluster calls into it only once running.
  const cluster = clusterService(initial, logger, opts.openServerRegistry, () => dhcp4.learnSharedBindings());
  const dhcp4: Dhcp4Service = new Dhcp4Service(initial, {
    store: () => store.store,
    registrar: () => ddns?.registrar,
    clock,
    logger,
    counters,
    port: opts.dhcp4Port,
    openTransport: opts.openTransport,
    loadBalance: cluster && ((grantedByUs) => cluster.view(grantedByUs)),
  });
  const ra = initial.ra ? new RaService(initial.ra, { clock, logger, counters }) : undefined;

  const metrics = (): MetricFamily[] => {
    const gauges: ApplianceGauges = {
      subnets: dhcp4.usage(),
      offersHeld: dhcp4.offersHeld,
      ddns: ddns?.queueState(),
      config: { loadedAtSeconds: configLoadedAt / 1000 },
    };
    return metricFamilies(counters.series(), counters.histograms(), gauges);
  };
  const health = () => {
    const problems: string[] = [];
    if (!dhcp4.serving) problems.push('dhcp4: the sockets are not open');
    if (!store.isOpen) problems.push('store: not open');
    if (cluster?.fenced) problems.push('ha: fenced (cannot write the heartbeat): answering nothing');
    const failure = commitMonitor.lastFailure;
    if (failure !== undefined) problems.push(`store: the last commit failed: ${failure}`);
    return { healthy: problems.length === 0, problems };
  };
  const reload = (next: ServerConfig): ReloadResult => {
    const blockers = changesNeedingRestart(config, next);
    if (blockers.length > 0) {
      counters.inc('config_reloads', { outcome: 'refused' });
      return { applied: false, reason: 'needs-restart', issues: blockers };
    }
    dhcp4.reconfigure(next);
    subnetNaming.clear();
    for (const [id, naming] of subnetDdnsById(next.subnets)) subnetNaming.set(id, naming);
    // A refusal may have been the old configuration's doing: give parked changes another try.
    ddns?.unpark();
    config = next;
    configLoadedAt = clock.now();
    counters.inc('config_reloads', { outcome: 'applied' });
    return { applied: true };
  };

  const appliance: Appliance = {
    counters,
    store,
    ddns,
    dhcp4,
    cluster,
    ra,
    ops: undefined,
    services: [],
    get config() {
      return config;
    },
    get configLoadedAt() {
      return configLoadedAt;
    },
    startedAt,
    start: () => group.start(),
    stop: () => group.stop(),
    reload,
    metrics,
    health,
  };
  const ops = opts.withoutOps ? undefined : new OpsService({ appliance, loadConfig: opts.loadConfig, clock, logger, counters, ...opts.ops });
  const services = [store, cluster, ddns, dhcp4, ra, ops].filter((s): s is NonNullable<typeof s> => s !== undefined);
  const group = new ServiceGroup(services, logger);
  return Object.assign(appliance, { ops, services });
}

/** With `ha` (a shared PostgreSQL store, validated so): heartbeats and buckets. */
function clusterService(
  config: ServerConfig,
  logger: Logger,
  openRegistry: ApplianceOptions['openServerRegistry'],
  beforeTakeover: () => Promise<void>,
): ClusterService | undefined {
  const ha = config.ha;
  const leaseStore = config.leaseStore;
  if (ha === undefined || leaseStore.type !== 'postgresql') return undefined;
  return new ClusterService({
    config: ha,
    // Loaded only with PostgreSQL, as the store itself (open-lease-store.ts).
    openRegistry: openRegistry ?? (async () => (await import('../leases/pg/pg-server-registry.ts')).openServerRegistry(leaseStore)),
    addresses: () => [config.serverId, ...config.interfaces.map((i) => i.address)].filter((a): a is string => a !== undefined),
    logger,
    beforeTakeover,
  });
}
