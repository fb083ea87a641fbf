/**
 * The lab's server configuration, built from the lab's parameters (the
 * appliance's link and addresses, BIND's, the key) rather than edited out
 * of the example file's text. lab/roles.sh runs it as a script:
 *
 *   node dist/lab/server-config.js [--interface IF] [--address V4/LEN]
 *     [--address6 V6/LEN] [--dns V4] [--dns6 V6] [--key-name NAME]
 *     [--key-file PATH] [--token-file PATH] [--pg-host H --pg-database DB
 *     --pg-user U --pg-password-file PATH [--pg-port N] --ha-server-name NAME]
 *     [--edits FILE] OUT
 *
 * and the server reads OUT (YAML). Flags left out keep the lab's values
 * (`LAB_SERVER_PARAMS`). `--edits` names a YAML or JSON mapping of changes,
 * `dotted.path: value` (see `applyConfigEdits`). config/leasehold.example.yaml
 * documents the same configuration for operators; a unit test keeps the two
 * equal once validated, so neither depends on the other's layout.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { intToIp, ipToInt, isIpv4 } from '../lib/wire/ipv4.ts';
import { bufferToIpv6, ipv6ToBuffer, isIpv6 } from '../lib/wire/ipv6.ts';
import { LAB_ZONES } from './bind-config.ts';

/** What the lab's server config is made from. */
export interface LabServerParams {
  /** The appliance's link to the lab's segment: served (DHCPv4) and advertised on (RA). */
  interface: string;
  /**
   * The server's IPv4 address and prefix length on that link: the address
   * is its server identifier and the clients' router, the subnet served is
   * its network.
   */
  address: string;
  /** The appliance's IPv6 address and prefix length: its network (a /64) is the prefix advertised for SLAAC. */
  address6: string;
  /** The dynamic pool, inside the subnet; the lab keeps x.x.0.0/24 for fixed hosts. */
  pool: { start: string; end: string };
  /** Seconds (option 51). */
  leaseTime: number;
  /** BIND's IPv4 address: the clients' DNS server (option 6) and where DNS updates go. */
  dns: string;
  /** BIND's IPv6 address, advertised as RDNSS (RFC 8106). */
  dns6: string;
  /** The clients' domain (option 15, DNSSL); their names are <host>.<app>.<domain>. */
  domain: string;
  /** The app label of a client that names none. */
  defaultApp: string;
  /** The zones DNS updates go to: the forward zone and the reverse ones, as BIND serves them. */
  zones: readonly string[];
  /** The TSIG key (RFC 8945, hmac-sha256): its name and the `tsig-keygen` file holding it. */
  key: { name: string; file: string };
  /**
   * The control API and /metrics over HTTP on the server's address, Kea's
   * control agent port 8000, behind the bearer token in this file (so
   * Prometheus, inside the lab, can scrape it).
   */
  control: { port: number; tokenFile: string };
  /**
   * The lease store when several appliances share one PostgreSQL database
   * (`shared: true`); absent: the embedded SQLite store of a single
   * appliance (its path is given on the server's command line).
   */
  sharedStore?: LabSharedStore;
  /** With `sharedStore`: this appliance's `ha.serverName` (unique among the lab's appliances). */
  haServerName?: string;
}

/** The lab's PostgreSQL database, as every appliance reaches it. */
export interface LabSharedStore {
  /** An address in the lab (198.18.0.0/16) or the cluster's socket directory. */
  host: string;
  port: number;
  database: string;
  user: string;
  passwordFile: string;
}

/**
 * T1 and T2 with several servers (README, "Several servers"): a client of
 * a server that died renews at T1 in vain (unicast to it, RFC 2131
 * §4.4.5), then rebinds at T2 by broadcast and the survivor ACKs it from
 * the shared table (§4.3.2). T2 at 0.75 of the 3600 s lease, not the
 * default 0.875, moves it 7.5 minutes earlier and leaves 900 s of
 * rebinding retries before the lease would lapse.
 */
export const HA_LEASE_TIMERS = { renewTime: 1800, rebindTime: 2700 } as const;

/** The lab of ARCHITECTURE.md ("The lab"), as lab/lab.sh and lab/provision.sh set it up. */
export const LAB_SERVER_PARAMS: Readonly<LabServerParams> = {
  interface: 'eth0',
  address: '198.18.0.1/16',
  address6: 'fd00:198:18::1/64',
  pool: { start: '198.18.1.0', end: '198.18.255.254' },
  leaseTime: 3600,
  dns: '198.18.0.2',
  dns6: 'fd00:198:18::2',
  domain: 'leasehold.test',
  defaultApp: 'lab',
  zones: LAB_ZONES.map((zone) => zone.name),
  key: { name: 'leasehold-ddns', file: '/etc/leasehold/ddns.key' },
  control: { port: 8000, tokenFile: '/etc/leasehold/control.token' },
};

/** A configuration as the server reads it from YAML or JSON, before validation. */
export type RawConfig = { [key: string]: unknown };

/**
 * The server's configuration for the lab: one subnet on `interface` with
 * DDNS to BIND and router advertisements for SLAAC. What it leaves out is the
 * server's default, as config/leasehold.example.yaml documents it.
 */
export function labServerConfig(p: LabServerParams): RawConfig {
  const [server] = p.address.split('/');
  const slaacPrefix = ipv6Network(p.address6, 'address6');
  const key = { name: p.key.name, algorithm: 'hmac-sha256', secretFile: p.key.file };
  if (p.sharedStore && p.haServerName === undefined) throw new LabConfigError('a shared PostgreSQL store needs --ha-server-name (ha.serverName) as well');
  if (!p.sharedStore && p.haServerName !== undefined) throw new LabConfigError('--ha-server-name needs the shared PostgreSQL store (--pg-*)');
  return {
    interfaces: [{ name: p.interface, address: server }],
    subnets: [
      {
        id: 'lab',
        subnet: ipv4Network(p.address, 'address'),
        interface: p.interface,
        pools: [{ ...p.pool }],
        leaseTime: p.leaseTime,
        ...(p.sharedStore && HA_LEASE_TIMERS),
        options: {
          routers: [server],
          dnsServers: [p.dns],
          domainName: p.domain,
          domainSearch: [`${p.defaultApp}.${p.domain}`, p.domain],
        },
        ddns: { domain: p.domain, defaultApp: p.defaultApp, slaacPrefix },
      },
    ],
    declineQuarantineSeconds: 600,
    ...(p.sharedStore && { leaseStore: { type: 'postgresql', ...p.sharedStore, shared: true } }),
    // RFC 3074 buckets split between the appliances by heartbeat; the other takes a dead one's after ha.partnerDownAfterMs.
    ...(p.haServerName !== undefined && { ha: { serverName: p.haServerName } }),
    ddns: {
      zones: p.zones.map((name) => ({ name, servers: [{ address: p.dns }], key: { ...key } })),
    },
    ra: {
      interfaces: [
        {
          name: p.interface,
          // Unicast at once (RFC 7772): an attach waits for this RA.
          solicitedResponse: 'immediate',
          prefixes: [{ prefix: slaacPrefix, onLink: true, autonomous: true }],
          rdnss: [p.dns6],
          dnssl: [p.domain],
        },
      ],
    },
    control: { http: { address: server, port: p.control.port, tokenFile: p.control.tokenFile } },
  };
}

/** `198.18.0.1/16` → `198.18.0.0/16`. */
export function ipv4Network(cidr: string, param = 'address'): string {
  const [address, length] = splitPrefix(cidr, param, isIpv4, 32);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return `${intToIp((ipToInt(address) & mask) >>> 0)}/${length}`;
}

/** `fd00:198:18::1/64` → `fd00:198:18::/64`. */
export function ipv6Network(cidr: string, param = 'address6'): string {
  const [address, length] = splitPrefix(cidr, param, isIpv6, 128);
  const bytes = ipv6ToBuffer(address);
  for (let bit = length; bit < 128; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  return `${bufferToIpv6(bytes)}/${length}`;
}

function splitPrefix(cidr: string, param: string, valid: (address: string) => boolean, bits: number): [string, number] {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!match || !valid(match[1]) || Number(match[2]) > bits) {
    const like = bits === 32 ? '198.18.0.1/16' : 'fd00:198:18::1/64';
    throw new LabConfigError(`${param} ${JSON.stringify(cidr)}: not an address with a prefix length, like ${like}`);
  }
  return [match[1], Number(match[2])];
}

// ---------------------------------------------------------------------------
// Edits

/** Changes to a built config: `dotted.path: value`, applied in order. */
export type ConfigEdits = Readonly<Record<string, unknown>>;

/** A parameter or an edit the lab cannot use: the message names it. */
export class LabConfigError extends Error {}

/**
 * Applies `edits` to `config` in place. A path is keys and list indexes
 * joined by dots (`subnets.0.leaseTime`, `ddns.retry.maxMs`); the value
 * replaces what is there, `null` removes the key (or the list item). A
 * missing mapping on the
 * way is created (the server's validator rejects a misspelt key, since
 * unknown fields are errors); a list index must exist, and a path cannot
 * go through a scalar.
 */
export function applyConfigEdits(config: RawConfig, edits: ConfigEdits): RawConfig {
  for (const [path, value] of Object.entries(edits)) {
    const keys = path.split('.');
    if (keys.some((k) => k === '')) throw new LabConfigError(`config edit "${path}": empty key in the path`);
    let node: unknown = config;
    for (const [i, key] of keys.entries()) {
      const last = i === keys.length - 1;
      const where = keys.slice(0, i).join('.') || '(the top)';
      if (Array.isArray(node)) {
        const index = /^\d+$/.test(key) ? Number(key) : NaN;
        if (!(index < node.length)) throw new LabConfigError(`config edit "${path}": ${where} is a list of ${node.length}, it has no item ${key}`);
        if (last && value === null) node.splice(index, 1);
        else if (last) node[index] = value;
        else node = node[index];
      } else if (isMapping(node)) {
        if (last && value === null) delete node[key];
        else if (last) node[key] = value;
        else node = node[key] ??= {};
      } else {
        throw new LabConfigError(`config edit "${path}": ${where} is ${JSON.stringify(node)}, not a mapping or a list`);
      }
    }
  }
  return config;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads an edits file (YAML, or JSON, which is YAML too): a mapping of paths to values. */
export function readConfigEdits(file: string): ConfigEdits {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LabConfigError(`--edits ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isMapping(parsed)) throw new LabConfigError(`--edits ${file}: must be a mapping of dotted.path: value`);
  return parsed;
}

// ---------------------------------------------------------------------------
// Command line

const USAGE = `usage: server-config [--interface IF] [--address V4/LEN] [--address6 V6/LEN] [--dns V4] [--dns6 V6]
                     [--key-name NAME] [--key-file PATH] [--token-file PATH]
                     [--pg-host H --pg-database DB --pg-user U --pg-password-file PATH [--pg-port N] --ha-server-name NAME]
                     [--edits FILE] OUT`;

const HEADER = '# Written by lab/server-config.ts for this lab; config/leasehold.example.yaml explains every field.\n';

/** The script's work: writes OUT and returns the exit code (2: bad arguments, 1: bad parameters or edits). */
export function serverConfigMain(argv: readonly string[], stderr: (line: string) => void): number {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    stderr(`server-config: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    stderr(`server-config: want one output file, got ${positionals.length}\n${USAGE}`);
    return 2;
  }
  const params: LabServerParams = {
    ...LAB_SERVER_PARAMS,
    ...(values.interface !== undefined && { interface: values.interface }),
    ...(values.address !== undefined && { address: values.address }),
    ...(values.address6 !== undefined && { address6: values.address6 }),
    ...(values.dns !== undefined && { dns: values.dns }),
    ...(values.dns6 !== undefined && { dns6: values.dns6 }),
    key: { name: values['key-name'] ?? LAB_SERVER_PARAMS.key.name, file: values['key-file'] ?? LAB_SERVER_PARAMS.key.file },
    control: { ...LAB_SERVER_PARAMS.control, ...(values['token-file'] !== undefined && { tokenFile: values['token-file'] }) },
    ...(values['ha-server-name'] !== undefined && { haServerName: values['ha-server-name'] }),
  };
  try {
    const sharedStore = sharedStoreFlags(values);
    if (sharedStore) params.sharedStore = sharedStore;
    const config = labServerConfig(params);
    if (values.edits !== undefined) applyConfigEdits(config, readConfigEdits(values.edits));
    writeFileSync(positionals[0], HEADER + toYaml(config, { aliasDuplicateObjects: false }));
  } catch (error) {
    if (!(error instanceof LabConfigError)) throw error;
    stderr(`server-config: ${error.message}`);
    return 1;
  }
  return 0;
}

const PG_FLAGS = ['pg-host', 'pg-database', 'pg-user', 'pg-password-file'] as const;

/** The --pg-* flags: all of them (a shared PostgreSQL store) or none (SQLite). */
function sharedStoreFlags(values: ReturnType<typeof parseFlags>['values']): LabSharedStore | undefined {
  const given = PG_FLAGS.filter((f) => values[f] !== undefined);
  if (given.length === 0 && values['pg-port'] === undefined) return undefined;
  const missing = PG_FLAGS.filter((f) => values[f] === undefined);
  if (missing.length > 0) throw new LabConfigError(`a shared PostgreSQL store needs ${missing.map((f) => `--${f}`).join(', ')} as well`);
  const port = values['pg-port'] === undefined ? 5432 : Number(values['pg-port']);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LabConfigError(`--pg-port ${JSON.stringify(values['pg-port'])}: not a port number (1..65535)`);
  return { host: values['pg-host']!, port, database: values['pg-database']!, user: values['pg-user']!, passwordFile: values['pg-password-file']! };
}

function parseFlags(argv: readonly string[]) {
  const text = { type: 'string' } as const;
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      interface: text, address: text, address6: text, dns: text, dns6: text, 'key-name': text, 'key-file': text, 'token-file': text, edits: text,
      'pg-host': text, 'pg-port': text, 'pg-database': text, 'pg-user': text, 'pg-password-file': text, 'ha-server-name': text,
    },
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = serverConfigMain(process.argv.slice(2), (line) => process.stderr.write(`${line}\n`));
}
