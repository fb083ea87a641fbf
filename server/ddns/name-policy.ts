import { createHash } from 'node:crypto';
import { isLdhLabel, isLdhName } from '../../lib/dns/ldh-name.ts';
import type { ClientFqdn } from '../../lib/dhcp4/options/client-fqdn.ts';
import type { DdnsConfig, DdnsZoneConfig, SubnetDdnsConfig } from './ddns-config.ts';
import { slaacAddress } from './eui64.ts';
import { findZone, reverseNameV4, reverseNameV6 } from './reverse-names.ts';

/**
 * Which name a client gets in DNS, if any, and what the server tells it in
 * its option 81 (RFC 4702). Names have the shape `<host>.<app>.<domain>`:
 * the host label from option 81 or option 12, the app label from the
 * second label of a partial option 81 name or the subnet's default, the
 * domain from the subnet. A name the policy refuses is never published as
 * the client sent it: it is replaced by a generated one, or nothing is
 * registered (`onRefusedName`).
 *
 * Choices where RFC 4702 leaves the server free, made as Kea makes them:
 * - N=1 (§3.4, "no server updates") is honoured: nothing is registered, as
 *   with Kea's default `ddns-override-no-update: false`.
 * - S=0 (§3.2, "the client updates its A RR itself") is overridden: the
 *   server registers the name anyway and answers S=1, O=1, as Kea's
 *   `ddns-override-client-update: true` does. Containers do not update DNS,
 *   and a name nobody guards with a DHCID could be taken by anyone.
 * - N=1 and S=1 together, which §2.1 forbids, are read as N=1: when a
 *   client is unclear about updates, the safe reading is "none".
 */

/** Why a client's own name was not used. */
export type RefusedNameReason = 'invalid-name' | 'app-not-allowed' | 'wrong-domain' | 'outside-zones';

export type NoRegistrationReason =
  /** DDNS is off, globally or for the subnet. */
  | 'disabled'
  /** The client set N (RFC 4702 §3.4). */
  | 'client-declined'
  /** The client gave no name, or left it to the server while refused names are skipped. */
  | 'no-name'
  | RefusedNameReason;

export interface NameRequest {
  /** Option 81 as the client sent it. */
  fqdnOption?: ClientFqdn;
  /** Option 12 as the client sent it. */
  hostname?: string;
  /** `clientKeyFor()` of the lease: seeds generated names, so a client keeps its name across renewals. */
  clientKey: string;
  /** The leased address. */
  ipv4: string;
  /** The client's MAC (lower-case colon hex), for its SLAAC address. */
  hwAddress: string;
  /** Absent when the configuration has no `ddns` section. */
  ddns?: DdnsConfig;
  /** The client's subnet's `ddns`; absent when the subnet has none. */
  subnet?: SubnetDdnsConfig;
}

/** One address record to publish, with its PTR owner and, when one is configured, the zone that owner is in. */
export interface AddressBinding {
  record: { type: 'A' | 'AAAA'; data: string };
  reverseName: string;
  reverseZone?: DdnsZoneConfig;
}

export interface Refusal {
  reason: RefusedNameReason;
  /** One line for the log. */
  detail: string;
}

export interface NameRegistration {
  register: true;
  fqdn: string;
  host: string;
  app: string;
  forwardZone: DdnsZoneConfig;
  /** A first, then the AAAA of the SLAAC address when the subnet has a `slaacPrefix`. */
  addresses: AddressBinding[];
  /** Set when the client's own name was refused and `fqdn` is a generated one. */
  replaced?: Refusal;
  /** Option 81 for the reply; absent when the client sent none (RFC 4702 §4 answers only a client that asked). */
  fqdnReply?: ClientFqdn;
}

export interface NoRegistration {
  register: false;
  reason: NoRegistrationReason;
  detail: string;
  fqdnReply?: ClientFqdn;
}

export type NameDecision = NameRegistration | NoRegistration;

/** What the client asked for, before any check. */
type Requested =
  | { kind: 'labels'; host: string; app?: string }
  | { kind: 'refused'; refusal: Refusal }
  /** Option 81 with an empty name: the client leaves the name to the server, which makes one up (as Kea does). */
  | { kind: 'server-chooses' }
  | { kind: 'none' };

interface CheckedName {
  host: string;
  app: string;
  fqdn: string;
  zone: DdnsZoneConfig;
}

export function chooseName(req: NameRequest): NameDecision {
  const { ddns, subnet, fqdnOption } = req;
  if (!ddns?.enabled || subnet === undefined) {
    return notRegistered(req, 'disabled', 'dynamic DNS is not enabled for this subnet');
  }
  if (fqdnOption?.flags.n) {
    return notRegistered(req, 'client-declined', 'the client asked for no DNS update (option 81 N bit)');
  }
  const requested = requestedName(req, subnet);
  if (requested.kind === 'none') return notRegistered(req, 'no-name', 'the client sent no name (neither option 81 nor 12)');

  let refusal: Refusal | undefined;
  if (requested.kind === 'refused') refusal = requested.refusal;
  if (requested.kind === 'labels') {
    const checked = checkName(requested.host, requested.app ?? subnet.defaultApp, subnet, ddns.zones);
    if (!('reason' in checked)) return registered(req, subnet, ddns, checked);
    refusal = checked;
  }
  if (ddns.onRefusedName === 'skip') {
    return refusal
      ? notRegistered(req, refusal.reason, refusal.detail)
      : notRegistered(req, 'no-name', 'the client left its name to the server, and onRefusedName is skip');
  }
  const generated = checkName(generatedHost(req.clientKey), subnet.defaultApp, subnet, ddns.zones);
  if ('reason' in generated) return notRegistered(req, generated.reason, `generated name refused: ${generated.detail}`);
  return registered(req, subnet, ddns, generated, refusal);
}

function requestedName(req: NameRequest, subnet: SubnetDdnsConfig): Requested {
  // RFC 4702 §3.1: a client sending option 81 must not send option 12; when
  // one sends both anyway (udhcpc does), option 81 is the one that counts.
  const fqdn = req.fqdnOption;
  if (fqdn) {
    if (fqdn.name === '') return { kind: 'server-chooses' };
    return fqdn.partial ? partialName(fqdn.name) : qualifiedName(fqdn.name, subnet.domain);
  }
  // Windows NUL-terminates option 12 (RFC 2132 §2 says text options should
  // not be). The name may be qualified "with the local domain name" (§3.14):
  // its first label is the host, the rest is the server's to decide.
  const hostname = req.hostname?.replace(/\0+$/, '');
  if (!hostname) return { kind: 'none' };
  return { kind: 'labels', host: hostname.split('.')[0] };
}

/** RFC 4702 §2.3 partial name: `<host>` or `<host>.<app>`, the server adds the domain. */
function partialName(name: string): Requested {
  const labels = name.split('.');
  if (labels.length === 1) return { kind: 'labels', host: labels[0] };
  if (labels.length === 2) return { kind: 'labels', host: labels[0], app: labels[1] };
  return refused('wrong-domain', `partial name "${name}" has ${labels.length} labels; expected <host> or <host>.<app>`);
}

/** A fully qualified name must already be `<host>.<app>.<domain>` of the client's subnet. */
function qualifiedName(name: string, domain: string): Requested {
  const suffix = `.${domain}`;
  const labels = name.toLowerCase().endsWith(suffix) ? name.slice(0, -suffix.length).split('.') : [];
  if (labels.length !== 2) return refused('wrong-domain', `"${name}" is not <host>.<app>.${domain}`);
  return { kind: 'labels', host: labels[0], app: labels[1] };
}

function refused(reason: RefusedNameReason, detail: string): Requested {
  return { kind: 'refused', refusal: { reason, detail } };
}

/** RFC 1123 §2.1 labels, lower-cased (DNS names compare case-insensitively, RFC 4343), inside a configured zone. */
function checkName(
  host: string,
  app: string,
  subnet: SubnetDdnsConfig,
  zones: readonly DdnsZoneConfig[],
): CheckedName | Refusal {
  if (!isLdhLabel(host)) return { reason: 'invalid-name', detail: `host label ${JSON.stringify(host)} is not an RFC 1123 label` };
  if (!isLdhLabel(app)) return { reason: 'invalid-name', detail: `app label ${JSON.stringify(app)} is not an RFC 1123 label` };
  const h = host.toLowerCase();
  const a = app.toLowerCase();
  if (subnet.allowedApps && !subnet.allowedApps.includes(a)) {
    return { reason: 'app-not-allowed', detail: `app "${a}" is not allowed on this subnet (allowed: ${subnet.allowedApps.join(', ')})` };
  }
  const fqdn = `${h}.${a}.${subnet.domain}`;
  if (!isLdhName(fqdn)) return { reason: 'invalid-name', detail: `"${fqdn}" is longer than 253 characters` };
  const zone = findZone(fqdn, zones);
  if (zone === undefined) return { reason: 'outside-zones', detail: `"${fqdn}" is in none of the configured zones` };
  return { host: h, app: a, fqdn, zone };
}

/**
 * A host label derived from the client key alone, so the same client gets
 * the same name on every renewal and after a restart: 48 bits of SHA-256,
 * enough to keep two clients of one subnet apart.
 */
function generatedHost(clientKey: string): string {
  return `dhcp-${createHash('sha256').update(clientKey).digest('hex').slice(0, 12)}`;
}

function registered(
  req: NameRequest,
  subnet: SubnetDdnsConfig,
  ddns: DdnsConfig,
  name: CheckedName,
  replaced?: Refusal,
): NameRegistration {
  const addresses = [bind({ type: 'A', data: req.ipv4 }, reverseNameV4(req.ipv4), ddns.zones)];
  const v6 = subnet.slaacPrefix === undefined ? undefined : slaacAddress(subnet.slaacPrefix, req.hwAddress);
  if (v6 !== undefined) addresses.push(bind({ type: 'AAAA', data: v6 }, reverseNameV6(v6), ddns.zones));
  const fqdnReply = req.fqdnOption && reply(req.fqdnOption, true, name.fqdn, false);
  return {
    register: true,
    fqdn: name.fqdn,
    host: name.host,
    app: name.app,
    forwardZone: name.zone,
    addresses,
    ...(replaced && { replaced }),
    ...(fqdnReply && { fqdnReply }),
  };
}

function bind(record: AddressBinding['record'], reverseName: string, zones: readonly DdnsZoneConfig[]): AddressBinding {
  const reverseZone = findZone(reverseName, zones);
  return { record, reverseName, ...(reverseZone && { reverseZone }) };
}

function notRegistered(req: NameRequest, reason: NoRegistrationReason, detail: string): NoRegistration {
  const asked = req.fqdnOption;
  const fqdnReply = asked && reply(asked, false, asked.name, asked.partial);
  return { register: false, reason, detail, ...(fqdnReply && { fqdnReply }) };
}

/**
 * RFC 4702 §4: the reply's flags say what the server does — S=1 when it
 * updates the A RR, N=1 when it updates nothing, O=1 when its S differs
 * from the client's — both RCODEs are 255 (§2.2), and the name is encoded
 * the way the client encoded its own (E bit, §4), fully qualified when the
 * server registered it.
 */
function reply(asked: ClientFqdn, updates: boolean, name: string, partial: boolean): ClientFqdn {
  return {
    flags: { s: updates, o: asked.flags.s !== updates, e: asked.flags.e, n: !updates },
    rcode1: 255,
    rcode2: 255,
    name,
    partial,
  };
}
