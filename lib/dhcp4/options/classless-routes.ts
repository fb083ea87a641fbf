import { ByteReader } from '../../wire/byte-reader.ts';
import { ByteWriter } from '../../wire/byte-writer.ts';
import { DecodeError } from '../../wire/decode-error.ts';
import { EncodeError } from '../../wire/encode-error.ts';
import { intToIp, ipToInt } from '../../wire/ipv4.ts';
import type { OptionKind } from './option-kind.ts';

/** One route of option 121; `destination` is "a.b.c.d/len". */
export interface ClasslessRoute {
  destination: string;
  router: string;
}

const FIELD = 'classless-routes';

/**
 * Option 121, classless static routes (RFC 3442 §2): each route is the
 * prefix length, then only the significant octets of the destination
 * (ceil(len / 8) of them), then the router. The octets are kept as sent,
 * even bits past the prefix length inside the last one, so decoding and
 * re-encoding reproduces the option exactly.
 */
export const classlessRoutesKind: OptionKind<ClasslessRoute[]> = {
  name: FIELD,
  decode(data) {
    const r = new ByteReader(data);
    const routes: ClasslessRoute[] = [];
    while (r.remaining > 0) {
      const at = r.offset;
      const width = r.u8(`${FIELD} prefix length`);
      if (width > 32) throw new DecodeError(FIELD, at, `prefix length ${width} is over 32`);
      let dest = 0;
      const significant = Math.ceil(width / 8);
      for (let i = 0; i < 4; i++) dest = dest * 256 + (i < significant ? r.u8(`${FIELD} destination`) : 0);
      routes.push({ destination: `${intToIp(dest)}/${width}`, router: r.ipv4(`${FIELD} router`) });
    }
    return routes;
  },
  encode(value) {
    const parsed = value.map(({ destination, router }) => {
      const slash = destination.indexOf('/');
      const width = Number(destination.slice(slash + 1));
      if (slash < 0 || !/^\d{1,2}$/.test(destination.slice(slash + 1)) || width > 32) {
        throw new EncodeError(FIELD, `destination ${JSON.stringify(destination)} is not "a.b.c.d/len" with len 0..32`);
      }
      const dest = ipToInt(destination.slice(0, slash));
      const significant = Math.ceil(width / 8);
      // Octets past the significant ones are not sent (RFC 3442 §2): refuse
      // to drop non-zero bits silently.
      if (significant < 4 && dest % 2 ** ((4 - significant) * 8) !== 0) {
        throw new EncodeError(FIELD, `destination ${destination} has bits set past its prefix length`);
      }
      return { width, dest, significant, router: ipToInt(router) };
    });
    const w = new ByteWriter(parsed.reduce((n, p) => n + 5 + p.significant, 0));
    for (const { width, dest, significant, router } of parsed) {
      w.u8(width);
      for (let i = 0; i < significant; i++) w.u8((dest >>> (24 - 8 * i)) & 0xff);
      w.u32(router);
    }
    return w.finish();
  },
  format: (value) => value.map((r) => `${r.destination} via ${r.router}`).join(', '),
};
