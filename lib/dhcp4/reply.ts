import { Dhcp4Message } from './message.ts';
import { Dhcp4MessageType, Opt } from './option-defs.ts';

export type ReplyModifier = (reply: Dhcp4Message) => void;

/*
 * Every reply carries a message type and our server identifier, and a
 * server has only a few of each: their encoded bytes are made once and
 * shared by every reply (option values are never written to in place),
 * not allocated per packet.
 */
const encodedTypes = new Map<Dhcp4MessageType, Buffer>();
let lastServerId: { text: string; data: Buffer } | undefined;

function encodedType(type: Dhcp4MessageType): Buffer {
  let data = encodedTypes.get(type);
  if (data === undefined) encodedTypes.set(type, (data = Opt.MessageType.kind.encode(type)));
  return data;
}

function encodedServerId(serverId: string): Buffer {
  if (lastServerId?.text !== serverId) lastServerId = { text: serverId, data: Opt.ServerId.kind.encode(serverId) };
  return lastServerId.data;
}

/**
 * The one place that builds a reply from a request, copying what the RFCs
 * require (insomniacslk/dhcp's habit): xid, flags, giaddr and chaddr
 * (RFC 2131 §4.3.1 table 3), the client identifier (RFC 6842 §3) and relay
 * agent information (RFC 3046 §2.2: echoed unchanged, written last by the
 * codec). Caller modifiers run last so they can override anything.
 */
export function newReplyFromRequest(
  req: Dhcp4Message,
  type: Dhcp4MessageType,
  serverId: string,
  ...modifiers: ReplyModifier[]
): Dhcp4Message {
  const reply = new Dhcp4Message();
  reply.op = 2;
  reply.htype = req.htype;
  reply.hlen = req.hlen;
  reply.xid = req.xid;
  reply.flags = req.flags;
  reply.giaddr = req.giaddr;
  reply.chaddr = Buffer.from(req.chaddr);
  reply.options.setRaw(Opt.MessageType.code, encodedType(type));
  reply.options.setRaw(Opt.ServerId.code, encodedServerId(serverId));
  const clientId = req.options.getRaw(Opt.ClientId.code);
  if (clientId) reply.options.setRaw(Opt.ClientId.code, clientId);
  const relayInfo = req.options.getRaw(Opt.RelayAgentInfo.code);
  if (relayInfo) reply.options.setRaw(Opt.RelayAgentInfo.code, relayInfo);
  for (const modify of modifiers) modify(reply);
  return reply;
}
