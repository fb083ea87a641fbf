import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { LeaseholdError } from '../../lib/core/errors.ts';

/** A configured interface that is missing, or has no address the server can use. */
export class InterfaceError extends LeaseholdError {
  readonly code = 'E_INTERFACE';
}

export interface LinkInfo {
  name: string;
  index: number;
  /** The first IPv4 address on the link. */
  ipv4?: string;
}

/** Looks a link up in this network namespace; a missing one is a clear error. */
export function lookupLink(name: string): LinkInfo {
  let index: number;
  try {
    index = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    throw new InterfaceError(`interface ${name}: no such interface in this network namespace`);
  }
  const ipv4 = networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address;
  return { name, index, ipv4 };
}
