/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by
 * its length in two bytes. Pure: the sockets are dns-client.ts's and
 * dns-session.ts's.
 */

/** The message with its two-byte length in front. */
export function frameMessage(bytes: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(2 + bytes.length);
  framed.writeUInt16BE(bytes.length, 0);
  bytes.copy(framed, 2);
  return framed;
}

/**
 * Cuts a TCP byte stream back into messages: chunks end anywhere (in the
 * length, in a message, after several messages), so what does not make a
 * whole message yet is kept for the next chunk.
 */
export class TcpFrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** The whole messages completed by `chunk`, in order. */
  push(chunk: Buffer): Buffer[] {
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    const messages: Buffer[] = [];
    while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
      const end = 2 + data.readUInt16BE(0);
      messages.push(data.subarray(2, end));
      data = data.subarray(end);
    }
    // A copy, so a kept remainder does not pin a large chunk in memory.
    this.#pending = Buffer.from(data);
    return messages;
  }

  /** Bytes received that do not make a whole message yet. */
  get buffered(): number {
    return this.#pending.length;
  }
}
