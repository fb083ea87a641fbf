import { dirname, join } from 'node:path';
import type { LeaseStoreConfig } from '../leases/lease-store-config.ts';

/**
 * The control API's settings after validation (ops-config-reader.ts); the
 * metrics (`GET /metrics`, `GET /healthz`) are served on the same
 * listeners. config/leasehold.example.yaml documents each field.
 */
export interface ControlConfig {
  /** The unix socket (mode 0600); default: `control.sock` beside the lease store (`controlSocketPath`). */
  socket?: string;
  /** Largest request body accepted, in bytes; a larger one is refused (413) unread. */
  maxBodyBytes: number;
  /** HTTP (or HTTPS) on an address; absent: the unix socket only. */
  http?: ControlHttpConfig;
}

export interface ControlHttpConfig {
  /** IPv4 address to listen on; default loopback. Any other needs `tokenFile` or `basicAuthFile`. */
  address: string;
  port: number;
  /** A file holding the bearer token (`Authorization: Bearer <token>`), read at start. */
  tokenFile?: string;
  /** A file of `user:password` lines (`Authorization: Basic …`), read at start. */
  basicAuthFile?: string;
  /** PEM certificate and key: HTTPS instead of HTTP. */
  tlsCert?: string;
  tlsKey?: string;
}

export const CONTROL_DEFAULTS = {
  maxBodyBytes: 1 << 20,
  httpAddress: '127.0.0.1',
  /** Kea's control agent's port. */
  httpPort: 8000,
  socketName: 'control.sock',
};

/**
 * Where the control socket is: as configured, else beside the SQLite lease
 * store (so `--store` moves both, and the CLI finds it the same way).
 * Undefined (no unix socket) for a database store without `control.socket`:
 * there is no file to sit beside, and several servers may share one
 * config, so no default place would be theirs alone.
 */
export function controlSocketPath(control: ControlConfig, leaseStore: LeaseStoreConfig): string | undefined {
  if (control.socket !== undefined) return control.socket;
  if (leaseStore.type !== 'sqlite') return undefined;
  return join(dirname(leaseStore.path), CONTROL_DEFAULTS.socketName);
}

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3): reachable from this host only. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.');
}
