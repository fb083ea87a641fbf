import type { Attachment, ClientProcess } from './attachment.ts';

/**
 * Control of the supervised DHCP clients, one per attachment. The real one
 * starts busybox udhcpc under nsenter (io/dhcp-client.ts); unit tests use a
 * fake that can die, hang or fail to start on demand.
 */
export interface DhcpClients {
  start(a: Attachment, opts: StartClientOptions): ClientProcess;
  /** Alive and the very process that was started (a recycled PID is not). */
  isRunning(c: ClientProcess): boolean;
  /** Stops it the polite way (the client releases its lease), then by force; how it ended. */
  stop(c: ClientProcess): Promise<ClientStopOutcome>;
}

export type ClientStopOutcome = 'not-running' | 'released' | 'killed';

export interface StartClientOptions {
  leaseFile: string;
  logFile: string;
  /** Ask for this address again: a restarted client keeps its lease. */
  requestIp?: string;
}
