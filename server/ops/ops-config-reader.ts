import { FieldReader, at, compact } from '../../lib/config/field-reader.ts';
import { CONTROL_DEFAULTS, isLoopback, type ControlConfig, type ControlHttpConfig } from './ops-config.ts';

/**
 * Reads and checks the `control` section: the unix socket, the body limit
 * and the optional HTTP listener. HTTP on any address but loopback must
 * authenticate (a token or basic auth from a file), or the configuration
 * is refused; TLS needs both its certificate and its key. The files
 * themselves are read when the server starts (a missing one fails the start).
 */
const CONTROL_FIELDS = ['socket', 'maxBodyBytes', 'http'] as const;
const HTTP_FIELDS = ['address', 'port', 'tokenFile', 'basicAuthFile', 'tlsCert', 'tlsKey'] as const;

export function readControl(f: FieldReader, value: unknown, path: string): ControlConfig {
  const m = value === undefined || value === null ? {} : f.mapping(value, path, CONTROL_FIELDS);
  if (m === undefined) return { maxBodyBytes: CONTROL_DEFAULTS.maxBodyBytes };
  return compact({
    socket: f.field(m, 'socket', path, (v, p) => f.string(v, p)),
    maxBodyBytes: f.field(m, 'maxBodyBytes', path, (v, p) => f.integer(v, p, 1024, 64 << 20)) ?? CONTROL_DEFAULTS.maxBodyBytes,
    http: f.field(m, 'http', path, (v, p) => readHttp(f, v, p)),
  });
}

function readHttp(f: FieldReader, value: unknown, path: string): ControlHttpConfig | undefined {
  const m = f.mapping(value, path, HTTP_FIELDS);
  if (m === undefined) return undefined;
  const file = (key: string) => f.field(m, key, path, (v, p) => f.string(v, p));
  const http: ControlHttpConfig = compact({
    address: f.field(m, 'address', path, (v, p) => f.ipv4(v, p)) ?? CONTROL_DEFAULTS.httpAddress,
    port: f.field(m, 'port', path, (v, p) => f.integer(v, p, 1, 65535)) ?? CONTROL_DEFAULTS.httpPort,
    tokenFile: file('tokenFile'),
    basicAuthFile: file('basicAuthFile'),
    tlsCert: file('tlsCert'),
    tlsKey: file('tlsKey'),
  });
  if (http.tokenFile !== undefined && http.basicAuthFile !== undefined) f.fail(path, 'has both tokenFile and basicAuthFile; give one');
  if (!isLoopback(http.address) && http.tokenFile === undefined && http.basicAuthFile === undefined) {
    f.fail(at(path, 'address'), `${http.address} is not loopback: anyone who reaches it could run commands, so give tokenFile or basicAuthFile`);
  }
  if ((http.tlsCert === undefined) !== (http.tlsKey === undefined)) f.fail(path, 'TLS needs both tlsCert and tlsKey');
  return http;
}
