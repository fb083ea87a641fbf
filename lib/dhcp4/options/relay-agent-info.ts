import { ByteReader } from '../../wire/byte-reader.ts';
import { ByteWriter } from '../../wire/byte-writer.ts';
import { checkUint } from '../../wire/check-uint.ts';
import { EncodeError } from '../../wire/encode-error.ts';
import { toColonHex } from '../../wire/colon-hex.ts';
import type { OptionKind } from './option-kind.ts';

/**
 * Option 82, relay agent information (RFC 3046 §2.0): a sequence of
 * code/length/value sub-options, kept in order and opaque except for the
 * two the RFC defines.
 */
export interface RelayAgentInfo {
  subOptions: RelayAgentSubOption[];
}

export interface RelayAgentSubOption {
  code: number;
  data: Buffer;
}

/** RFC 3046 §3.1 and §3.2. */
export const RelayAgentSubOptionCode = { CircuitId: 1, RemoteId: 2 } as const;

const FIELD = 'relay-agent-info';

export function findSubOption(info: RelayAgentInfo, code: number): Buffer | undefined {
  return info.subOptions.find((s) => s.code === code)?.data;
}

export function circuitId(info: RelayAgentInfo): Buffer | undefined {
  return findSubOption(info, RelayAgentSubOptionCode.CircuitId);
}

export function remoteId(info: RelayAgentInfo): Buffer | undefined {
  return findSubOption(info, RelayAgentSubOptionCode.RemoteId);
}

function subOptionName(code: number): string {
  if (code === RelayAgentSubOptionCode.CircuitId) return 'circuit-id';
  if (code === RelayAgentSubOptionCode.RemoteId) return 'remote-id';
  return String(code);
}

export const relayAgentInfoKind: OptionKind<RelayAgentInfo> = {
  name: FIELD,
  decode(data) {
    const r = new ByteReader(data);
    const subOptions: RelayAgentSubOption[] = [];
    while (r.remaining > 0) {
      const code = r.u8(`${FIELD} sub-option code`);
      const len = r.u8(`${FIELD} sub-option ${code} length`);
      subOptions.push({ code, data: r.bytes(len, `${FIELD} sub-option ${code}`) });
    }
    return { subOptions };
  },
  encode(value) {
    let size = 0;
    for (const { code, data } of value.subOptions) {
      checkUint(`${FIELD} sub-option code`, code, 255);
      if (data.length > 255) throw new EncodeError(FIELD, `sub-option ${code} is longer than 255 bytes`);
      size += 2 + data.length;
    }
    const w = new ByteWriter(size);
    for (const { code, data } of value.subOptions) w.u8(code).u8(data.length).bytes(data);
    return w.finish();
  },
  format: (value) => value.subOptions.map((s) => `${subOptionName(s.code)}=${toColonHex(s.data)}`).join(' '),
};
