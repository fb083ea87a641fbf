import { systemClock, type Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { ServerConfig } from '../config/config.ts';
import { subnetDdnsById } from '../ddns/ddns-config.ts';
import type { CommitObserver, LeaseStore } from '../leases/lease-store.ts';
import { openLeaseStore } from '../leases/open-lease-store.ts';
import { Counters } from './counters.ts';
import { DdnsService, type DdnsServiceDeps } from './ddns-service.ts';
import { Dhcp4Service } from './dhcp4-service.ts';
import { RaService } from './ra-service.ts';
import { ServiceGroup, type Service } from './service.ts';
import { StoreCommitMonitor } from './store-commit-monitor.ts';
import { StoreService } from './store-service.ts';

export interface ApplianceOptions {
  logger: Logger;
  clock?: Clock;
  /** DHCPv4 server port (67; tests use others). */
  dhcp4Port?: number;
  /** The lease store (default: the one `leaseStore` names); given the commit observer, if any. */
  openStore?: (observer?: CommitObserver) => LeaseStore | Promise<LeaseStore>;
  /** Test seams of the DDNS service. */
  ddns?: Pick<DdnsServiceDeps, 'keyCheckIntervalMs' | 'dnsServices'>;
}

/**
 * The whole server as configured: store → ddns → dhcp4 → ra, started in
 * that order (each uses the ones before it), stopped in reverse, with one
 * counters registry every service counts into — where a control API and
 * /metrics attach.
 */
export interface Appliance {
  readonly counters: Counters;
  readonly store: StoreService;
  readonly ddns: DdnsService | undefined;
  readonly dhcp4: Dhcp4Service;
  readonly ra: RaService | undefined;
  /** The services in start order. */
  readonly services: readonly Service[];
  /** Rejects with the failing service's own error, after stopping those already started. */
  start(): Promise<void>;
  /** Idempotent; rejects with a ServiceStopError when some service did not stop cleanly. */
  stop(): Promise<void>;
}

export function buildAppliance(config: ServerConfig, opts: ApplianceOptions): Appliance {
  const { logger } = opts;
  const clock = opts.clock ?? systemClock;
  const counters = new Counters();
  // Every group commit counted; a failing store logged once per interval, not once per request.
  const commitMonitor = new StoreCommitMonitor(counters, logger, clock);
  const store = new StoreService(opts.openStore ?? ((observer) => openLeaseStore(config.leaseStore, { logger, observer })), commitMonitor);
  const ddns: DdnsService | undefined = config.ddns?.enabled
    ? new DdnsService(config.ddns, { subnets: subnetDdnsById(config.subnets), store: () => store.store, leases: () => dhcp4.leases(), clock, logger, counters, ...opts.ddns })
    : undefined;
  const dhcp4: Dhcp4Service = new Dhcp4Service(config, { store: () => store.store, registrar: () => ddns?.registrar, clock, logger, counters, port: opts.dhcp4Port });
  const ra = config.ra ? new RaService(config.ra, { clock, logger, counters }) : undefined;
  const services = [store, ddns, dhcp4, ra].filter((s): s is NonNullable<typeof s> => s !== undefined);
  const group = new ServiceGroup(services, logger);
  return {
    counters,
    store,
    ddns,
    dhcp4,
    ra,
    services,
    start: () => group.start(),
    stop: () => group.stop(),
  };
}
