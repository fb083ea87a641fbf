import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';

/**
 * A DHCPRELEASE the agent keeps sending after an attachment is gone.
 *
 * RFC 2131 §4.4.6: the client sends DHCPRELEASE and expects no answer, so a
 * release sent while the server is down (or lost on the wire) is simply
 * gone, and the lease — with its A, AAAA and PTR records — stays until it
 * expires, an hour in the lab. The agent therefore records every release
 * and repeats it, with back-off, until the lease would have expired anyway.
 * Repeating is harmless: the server frees an address only for the client
 * that holds it (§4.3.4), and ignores a release for anything else.
 */
export interface PendingRelease {
  version: 1;
  /** The attachment's state key: a new attach of the same target cancels the release. */
  key: string;
  name: string;
  mac: string;
  clientIdHex: string;
  ip: string;
  serverId: string;
  bridgeNetns?: string;
  /** When the lease ends on its own (boundAt + lease time). */
  expiresAtMs: number;
  /** Releases sent so far (the DHCP client's own counts as one). */
  attempts: number;
  nextAtMs: number;
}

/** 2 s, 4 s, 8 s … at most 5 minutes between repeats. */
export function releaseRepeatDelayMs(attempts: number): number {
  return Math.min(300_000, 2000 * 2 ** Math.max(0, attempts - 1));
}

export type ReleaseStep = { kind: 'send' } | { kind: 'wait' } | { kind: 'drop'; reason: string };

/** What to do with a pending release now. */
export function releaseStep(p: PendingRelease, nowMs: number, targetAttachedAgain: boolean): ReleaseStep {
  // The same target attached again holds a lease under the same client-id:
  // a release now would take away its new lease.
  if (targetAttachedAgain) return { kind: 'drop', reason: 'attached again' };
  if (nowMs >= p.expiresAtMs) return { kind: 'drop', reason: 'lease expired' };
  return nowMs >= p.nextAtMs ? { kind: 'send' } : { kind: 'wait' };
}

/** The record after one more send. */
export function afterSend(p: PendingRelease, nowMs: number): PendingRelease {
  const attempts = p.attempts + 1;
  return { ...p, attempts, nextAtMs: nowMs + releaseRepeatDelayMs(attempts) };
}

/** The DHCPRELEASE a client would send (RFC 2131 §4.4.6, table 5): ciaddr, chaddr, server id, client id. */
export function buildRelease(p: Pick<PendingRelease, 'mac' | 'clientIdHex' | 'ip' | 'serverId'>, xid: number): Buffer {
  const chaddr = Buffer.alloc(16);
  Buffer.from(p.mac.replace(/:/g, ''), 'hex').copy(chaddr);
  const msg = new Dhcp4Message({ xid, ciaddr: p.ip, chaddr });
  msg.options.set(Opt.MessageType, Dhcp4MessageType.Release);
  msg.options.set(Opt.ServerId, p.serverId);
  msg.options.setRaw(Opt.ClientId.code, Buffer.from(p.clientIdHex, 'hex'));
  return msg.encode();
}

/** One DHCPRELEASE on its way to its server. */
export interface ReleaseDatagram {
  serverId: string;
  packet: Buffer;
}

/**
 * Sends releases from a bridge's namespace (undefined: the agent's own).
 * The real one is a short node child under nsenter (io/release-sender.ts).
 */
export interface ReleaseSender {
  send(bridgeNetns: string | undefined, datagrams: readonly ReleaseDatagram[]): Promise<void>;
}
