import type { SubnetConfig } from '../../../server/dhcp4/dhcp4-config.ts';
import { Dhcp4Message } from '../../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../../lib/dhcp4/option-defs.ts';

export interface RequestSpec {
  type: Dhcp4MessageType;
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  broadcast?: boolean;
  clientId?: Buffer;
  requestedIp?: string;
  serverId?: string;
  hostname?: string;
  paramList?: number[];
  relayAgentInfo?: Buffer;
}

/** A client's BOOTREQUEST as the engine would see it after decoding. */
export function clientRequest(spec: RequestSpec): Dhcp4Message {
  const msg = new Dhcp4Message();
  msg.op = 1;
  msg.htype = 1;
  msg.hlen = 6;
  msg.xid = spec.xid ?? 0x1234;
  msg.flags = spec.broadcast ? 0x8000 : 0;
  msg.ciaddr = spec.ciaddr ?? '0.0.0.0';
  msg.giaddr = spec.giaddr ?? '0.0.0.0';
  const chaddr = Buffer.alloc(16);
  Buffer.from(spec.mac.replace(/:/g, ''), 'hex').copy(chaddr);
  msg.chaddr = chaddr;
  msg.options.set(Opt.MessageType, spec.type);
  if (spec.clientId) msg.options.setRaw(Opt.ClientId.code, spec.clientId);
  if (spec.requestedIp) msg.options.set(Opt.RequestedIp, spec.requestedIp);
  if (spec.serverId) msg.options.set(Opt.ServerId, spec.serverId);
  if (spec.hostname) msg.options.set(Opt.Hostname, spec.hostname);
  if (spec.paramList) msg.options.set(Opt.ParamRequestList, spec.paramList);
  if (spec.relayAgentInfo) msg.options.setRaw(Opt.RelayAgentInfo.code, spec.relayAgentInfo);
  return msg;
}

/** The nth test MAC, locally administered so it can never be a real NIC's. */
export function testMac(n: number): string {
  return `02:00:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
}

/** The subnet the engine tests serve: 198.18.0.0/24 on eth0, ten pool addresses, RFC 2131 §4.4.5 T1/T2 of a 1 h lease. */
export function testSubnet(over: Partial<SubnetConfig> = {}): SubnetConfig {
  return {
    id: 'lan',
    subnet: '198.18.0.0/24',
    interface: 'eth0',
    pools: [{ start: '198.18.0.100', end: '198.18.0.109' }],
    leaseTime: 3600,
    renewTime: 1800,
    rebindTime: 3150,
    options: { routers: ['198.18.0.1'] },
    reservations: [],
    ...over,
  };
}
