import { bytesKind } from './options/bytes.ts';
import { classlessRoutesKind } from './options/classless-routes.ts';
import { clientFqdnKind } from './options/client-fqdn.ts';
import { clientIdKind } from './options/client-id.ts';
import { domainListKind } from './options/domain-list.ts';
import { ipListKind } from './options/ip-list.ts';
import { ipKind } from './options/ip.ts';
import { messageTypeKind } from './options/message-type.ts';
import type { OptionKind } from './options/option-kind.ts';
import { relayAgentInfoKind } from './options/relay-agent-info.ts';
import { stringKind } from './options/string.ts';
import { u8ListKind } from './options/u8-list.ts';
import { u16Kind, u32Kind, u8Kind } from './options/uint.ts';

export { Dhcp4MessageType } from './options/message-type.ts';

/** A DHCPv4 option: its code, its IANA name and how its value is carried. */
export interface OptionDef<T> {
  readonly code: number;
  readonly name: string;
  readonly kind: OptionKind<T>;
}

function def<T>(code: number, name: string, kind: OptionKind<T>): OptionDef<T> {
  return { code, name, kind };
}

/** The options the server reads or writes. Others stay raw bytes. */
export const Opt = {
  SubnetMask: def(1, 'subnet-mask', ipKind), // RFC 2132 §3.3
  Router: def(3, 'router', ipListKind), // §3.5
  DomainServer: def(6, 'domain-name-server', ipListKind), // §3.8
  Hostname: def(12, 'host-name', stringKind), // §3.14
  DomainName: def(15, 'domain-name', stringKind), // §3.17
  InterfaceMtu: def(26, 'interface-mtu', u16Kind), // §5.1
  BroadcastAddress: def(28, 'broadcast-address', ipKind), // §5.3
  NtpServers: def(42, 'ntp-servers', ipListKind), // §8.3
  RequestedIp: def(50, 'requested-ip-address', ipKind), // §9.1
  LeaseTime: def(51, 'ip-address-lease-time', u32Kind), // §9.2
  Overload: def(52, 'option-overload', u8Kind), // §9.3
  MessageType: def(53, 'dhcp-message-type', messageTypeKind), // §9.6
  ServerId: def(54, 'server-identifier', ipKind), // §9.7
  ParamRequestList: def(55, 'parameter-request-list', u8ListKind), // §9.8
  Message: def(56, 'message', stringKind), // §9.9
  MaxMessageSize: def(57, 'maximum-dhcp-message-size', u16Kind), // §9.10
  RenewalTime: def(58, 'renewal-time', u32Kind), // §9.11
  RebindingTime: def(59, 'rebinding-time', u32Kind), // §9.12
  VendorClassId: def(60, 'vendor-class-identifier', stringKind), // §9.13
  ClientId: def(61, 'client-identifier', clientIdKind), // §9.14
  ClientFqdn: def(81, 'client-fqdn', clientFqdnKind), // RFC 4702
  RelayAgentInfo: def(82, 'relay-agent-information', relayAgentInfoKind), // RFC 3046
  DomainSearch: def(119, 'domain-search', domainListKind), // RFC 3397
  ClasslessRoutes: def(121, 'classless-static-route', classlessRoutesKind), // RFC 3442
} as const;

const byCode = new Map<number, OptionDef<unknown>>(
  Object.values(Opt).map((d) => [d.code, d as OptionDef<unknown>]),
);

/** The definition for `code`, or an opaque one for options we do not model. */
export function optionDefByCode(code: number): OptionDef<unknown> {
  return byCode.get(code) ?? (def(code, `option-${code}`, bytesKind) as OptionDef<unknown>);
}
