import { FieldReader, compact, show, type Mapping } from '../../lib/config/field-reader.ts';
import { parseClientIdHex, parseHwAddress } from '../../lib/dhcp4/client-identity.ts';

/**
 * Every command the control API answers, and how its `arguments` are read:
 * Kea's argument names (`ip-address`, `hw-address`, `subnet-id`…), each
 * checked for presence and type, so a wrong request is refused with a text
 * naming the argument (`arguments.ip-address: is required`) before the
 * command does anything. Unknown arguments are refused too, with a
 * did-you-mean hint. Pure; the commands themselves are in
 * server/app/control-commands.ts.
 */

/** A client as Kea's commands name it: by hardware address or by client identifier (option 61). */
export type ClientIdentifier = { type: 'hw-address'; hwAddress: string } | { type: 'client-id'; clientId: string };

/** Which lease: by address, or by client within a subnet (Kea's lease4-get forms). */
export type LeaseSelector = { by: 'address'; ip: string } | { by: 'client'; client: ClientIdentifier; subnetId: string };

/** Which reservation of a subnet: by address or by client (Kea's reservation-get forms). */
export type ReservationSelector = { subnetId: string } & ({ by: 'address'; ip: string } | { by: 'client'; client: ClientIdentifier });

/** The fields of lease4-add and lease4-update. */
export interface LeaseFields {
  ip: string;
  hwAddress: string;
  clientId?: string;
  hostname?: string;
  /** Found from the address when absent. */
  subnetId?: string;
  /** Seconds; the subnet's lease time when absent. */
  validLifetime?: number;
}

export interface ReservationFields {
  subnetId: string;
  ip: string;
  client: ClientIdentifier;
  hostname?: string;
}

type Reader<T> = (f: FieldReader, args: Mapping) => T | undefined;

const none: Reader<Record<string, never>> = (f, args) => (f.mapping(args, 'arguments', []) ? {} : undefined);

/** `subnet-id`: our subnet ids are strings; Kea's are integers, so an integer is taken as its decimal text. */
function subnetId(f: FieldReader, value: unknown, path: string): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && value.length > 0) return value;
  return f.fail(path, `must be a subnet id (a string, or an integer), got ${show(value)}`);
}

function hwAddress(f: FieldReader, value: unknown, path: string): string | undefined {
  const mac = typeof value === 'string' ? parseHwAddress(value) : undefined;
  return mac ?? f.fail(path, `must be a hardware address like "02:42:c6:12:00:0b", got ${show(value)}`);
}

function clientId(f: FieldReader, value: unknown, path: string): string | undefined {
  const hex = typeof value === 'string' ? parseClientIdHex(value) : undefined;
  return hex ?? f.fail(path, `must be a client identifier of at least two hex octets, like "01:02:42:c6:12:00:0b", got ${show(value)}`);
}

/** `identifier-type` and `identifier`, as Kea's reservation and lease commands take them. */
function identifier(f: FieldReader, args: Mapping, path: string): ClientIdentifier | undefined {
  const type = f.field(args, 'identifier-type', path, (v, p) => f.oneOf(v, p, ['hw-address', 'client-id'] as const), true);
  if (type === undefined) return undefined;
  if (type === 'hw-address') {
    const mac = f.field(args, 'identifier', path, (v, p) => hwAddress(f, v, p), true);
    return mac === undefined ? undefined : { type, hwAddress: mac };
  }
  const id = f.field(args, 'identifier', path, (v, p) => clientId(f, v, p), true);
  return id === undefined ? undefined : { type, clientId: id };
}

const SELECTOR_FIELDS = ['ip-address', 'identifier-type', 'identifier', 'subnet-id'];

const leaseSelector: Reader<LeaseSelector> = (f, args) => {
  const m = f.mapping(args, 'arguments', SELECTOR_FIELDS);
  if (m === undefined) return undefined;
  if (m['ip-address'] !== undefined) {
    if (m['identifier-type'] !== undefined || m.identifier !== undefined) {
      return f.fail('arguments', 'give either ip-address, or identifier-type, identifier and subnet-id, not both');
    }
    const ip = f.field(m, 'ip-address', 'arguments', (v, p) => f.ipv4(v, p), true);
    return ip === undefined ? undefined : { by: 'address', ip };
  }
  if (m['identifier-type'] === undefined && m.identifier === undefined) {
    return f.fail('arguments.ip-address', 'is required (or identifier-type, identifier and subnet-id)');
  }
  const client = identifier(f, m, 'arguments');
  const subnet = f.field(m, 'subnet-id', 'arguments', (v, p) => subnetId(f, v, p), true);
  return client === undefined || subnet === undefined ? undefined : { by: 'client', client, subnetId: subnet };
};

const reservationSelector: Reader<ReservationSelector> = (f, args) => {
  const m = f.mapping(args, 'arguments', SELECTOR_FIELDS);
  if (m === undefined) return undefined;
  const subnet = f.field(m, 'subnet-id', 'arguments', (v, p) => subnetId(f, v, p), true);
  if (m['ip-address'] !== undefined) {
    const ip = f.field(m, 'ip-address', 'arguments', (v, p) => f.ipv4(v, p), true);
    return ip === undefined || subnet === undefined ? undefined : { subnetId: subnet, by: 'address', ip };
  }
  if (m['identifier-type'] === undefined && m.identifier === undefined) {
    return f.fail('arguments.ip-address', 'is required (or identifier-type and identifier)');
  }
  const client = identifier(f, m, 'arguments');
  return client === undefined || subnet === undefined ? undefined : { subnetId: subnet, by: 'client', client };
};

const LEASE_FIELDS = ['ip-address', 'hw-address', 'client-id', 'hostname', 'subnet-id', 'valid-lft'];

function readLeaseFields(f: FieldReader, m: Mapping): LeaseFields | undefined {
  const path = 'arguments';
  const ip = f.field(m, 'ip-address', path, (v, p) => f.ipv4(v, p), true);
  const hw = f.field(m, 'hw-address', path, (v, p) => hwAddress(f, v, p), true);
  const lease: LeaseFields = {
    ip: ip as string,
    hwAddress: hw as string,
    clientId: f.field(m, 'client-id', path, (v, p) => clientId(f, v, p)),
    hostname: f.field(m, 'hostname', path, (v, p) => f.dnsName(v, p)),
    subnetId: f.field(m, 'subnet-id', path, (v, p) => subnetId(f, v, p)),
    // RFC 2131 §3.3: 0xffffffff would be "infinite", which the server does not grant.
    validLifetime: f.field(m, 'valid-lft', path, (v, p) => f.integer(v, p, 1, 0xfffffffe)),
  };
  return ip === undefined || hw === undefined ? undefined : compact(lease);
}

const leaseAdd: Reader<LeaseFields> = (f, args) => {
  const m = f.mapping(args, 'arguments', LEASE_FIELDS);
  return m && readLeaseFields(f, m);
};

const leaseUpdate: Reader<LeaseFields & { forceCreate: boolean }> = (f, args) => {
  const m = f.mapping(args, 'arguments', [...LEASE_FIELDS, 'force-create']);
  if (m === undefined) return undefined;
  const fields = readLeaseFields(f, m);
  const forceCreate = f.field(m, 'force-create', 'arguments', (v, p) => f.boolean(v, p)) ?? false;
  return fields && { ...fields, forceCreate };
};

const subnetOnly: Reader<{ subnetId: string }> = (f, args) => {
  const m = f.mapping(args, 'arguments', ['subnet-id']);
  const subnet = m && f.field(m, 'subnet-id', 'arguments', (v, p) => subnetId(f, v, p), true);
  return subnet === undefined ? undefined : { subnetId: subnet };
};

const leaseGetAll: Reader<{ subnets?: string[] }> = (f, args) => {
  const m = f.mapping(args, 'arguments', ['subnets']);
  if (m === undefined) return undefined;
  const subnets = f.field(m, 'subnets', 'arguments', (v, p) => f.listOf(v, p, (item, ip) => subnetId(f, item, ip)));
  if (m.subnets !== undefined && subnets === undefined) return undefined;
  return subnets === undefined ? {} : { subnets };
};

/** Kea's paging: `from` is "start" or the last address of the previous page; `limit` how many to return. */
const leaseGetPage: Reader<{ from: string | 'start'; limit: number }> = (f, args) => {
  const m = f.mapping(args, 'arguments', ['from', 'limit']);
  if (m === undefined) return undefined;
  const from = f.field(m, 'from', 'arguments', (v, p) => (v === 'start' ? 'start' : f.ipv4(v, p)), true);
  const limit = f.field(m, 'limit', 'arguments', (v, p) => f.integer(v, p, 1, 100_000), true);
  return from === undefined || limit === undefined ? undefined : { from, limit };
};

const reservationAdd: Reader<ReservationFields> = (f, args) => {
  const outer = f.mapping(args, 'arguments', ['reservation']);
  if (outer === undefined) return undefined;
  const path = 'arguments.reservation';
  const m = f.field(outer, 'reservation', 'arguments', (v, p) => f.mapping(v, p, ['subnet-id', 'ip-address', 'hw-address', 'client-id', 'hostname']), true);
  if (m === undefined) return undefined;
  const subnet = f.field(m, 'subnet-id', path, (v, p) => subnetId(f, v, p), true);
  const ip = f.field(m, 'ip-address', path, (v, p) => f.ipv4(v, p), true);
  const hw = f.field(m, 'hw-address', path, (v, p) => hwAddress(f, v, p));
  const id = f.field(m, 'client-id', path, (v, p) => clientId(f, v, p));
  const hostname = f.field(m, 'hostname', path, (v, p) => f.dnsName(v, p));
  const given = (key: string) => m[key] !== undefined && m[key] !== null;
  if (given('hw-address') && given('client-id')) return f.fail(path, 'has both hw-address and client-id; give one');
  if (!given('hw-address') && !given('client-id')) return f.fail(`${path}.hw-address`, 'is required (or client-id)');
  const client: ClientIdentifier | undefined = hw !== undefined ? { type: 'hw-address', hwAddress: hw } : id !== undefined ? { type: 'client-id', clientId: id } : undefined;
  if (subnet === undefined || ip === undefined || client === undefined) return undefined;
  return compact({ subnetId: subnet, ip, client, hostname });
};

/** config-test: the configuration to test, inline as `{"Leasehold": {...}}`, or (no arguments) the server's file. */
const configTest: Reader<{ config?: unknown }> = (f, args) => {
  const m = f.mapping(args, 'arguments', ['Leasehold']);
  if (m === undefined) return undefined;
  return m.Leasehold === undefined ? {} : { config: m.Leasehold };
};

/**
 * The commands, in the order `list-commands` gives them, each with the
 * reader of its arguments. The implementation of each is checked against
 * this table at compile time (`CommandHandlers`).
 */
export const COMMANDS = {
  'list-commands': none,
  'status-get': none,
  'config-get': none,
  'config-test': configTest,
  'config-reload': none,
  'statistic-get-all': none,
  'lease4-get': leaseSelector,
  'lease4-get-all': leaseGetAll,
  'lease4-get-page': leaseGetPage,
  'lease4-add': leaseAdd,
  'lease4-update': leaseUpdate,
  'lease4-del': leaseSelector,
  'lease4-wipe': subnetOnly,
  'reservation-add': reservationAdd,
  'reservation-get': reservationSelector,
  'reservation-get-all': subnetOnly,
  'reservation-del': reservationSelector,
} satisfies Record<string, Reader<unknown>>;

export type CommandName = keyof typeof COMMANDS;
export type ArgumentsOf<C extends CommandName> = NonNullable<ReturnType<(typeof COMMANDS)[C]>>;

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

/**
 * The command's arguments, read and checked, or one line naming every
 * argument that is missing, of the wrong type or unknown.
 */
export function readArguments<C extends CommandName>(command: C, args: Mapping): { ok: true; args: ArgumentsOf<C> } | { ok: false; text: string } {
  const f = new FieldReader();
  const read = COMMANDS[command] as Reader<ArgumentsOf<C>>;
  const parsed = read(f, args);
  if (f.issues.length > 0 || parsed === undefined) {
    return { ok: false, text: f.issues.map((i) => `${i.path}: ${i.problem}`).join('; ') || 'invalid arguments' };
  }
  return { ok: true, args: parsed };
}
