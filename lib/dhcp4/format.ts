import { toColonHex } from '../wire/colon-hex.ts';
import { DecodeError } from '../wire/decode-error.ts';
import type { Dhcp4Message } from './message.ts';
import { optionDefByCode } from './option-defs.ts';

/** A bootp text field up to its first NUL, or undefined when empty. */
function cString(buf: Buffer): string | undefined {
  const nul = buf.indexOf(0);
  const text = buf.toString('latin1', 0, nul < 0 ? buf.length : nul);
  return text === '' ? undefined : text;
}

/**
 * A readable form of a message for logs: header fields, then every option
 * by name in wire order. A malformed option is shown as such instead of
 * throwing, since logging must not fail on the packets worth logging.
 */
export function describe(msg: Dhcp4Message): Record<string, unknown> {
  const options: Record<string, string> = {};
  for (const [code] of msg.options) {
    const def = optionDefByCode(code);
    try {
      options[def.name] = def.kind.format(msg.options.get(def));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      options[def.name] = `<malformed: ${err.detail}>`;
    }
  }
  return {
    op: msg.op === 1 ? 'BOOTREQUEST' : 'BOOTREPLY',
    htype: msg.htype,
    hops: msg.hops,
    xid: `0x${msg.xid.toString(16).padStart(8, '0')}`,
    secs: msg.secs,
    broadcast: msg.broadcast,
    ciaddr: msg.ciaddr,
    yiaddr: msg.yiaddr,
    siaddr: msg.siaddr,
    giaddr: msg.giaddr,
    chaddr: msg.hwAddress() || toColonHex(msg.chaddr),
    sname: cString(msg.sname),
    file: cString(msg.file),
    options,
  };
}
