/**
 * BIND's configuration for the lab and the tests, from one place: the
 * zones of docs/ARCHITECTURE.md ("The lab"), each accepting RFC 2136 updates
 * signed with the given TSIG keys. Run as a script by lab/lab.sh:
 *
 *   node dist/lab/bind-config.js DIR ADDRESS KEYFILE
 *
 * writes DIR/named.conf and one zone file per zone; KEYFILE is the
 * `tsig-keygen` output, included as it is.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTsigKeyFile } from '../lib/dns/tsig-key-file.ts';

/** A zone BIND serves: SOA and NS are added; `records` are more zone-file lines (relative names allowed). */
export interface BindZone {
  name: string;
  records?: string[];
}

/** Static records DDNS must never touch (RFC 4703: no DHCID, not ours); the second sits where a client named "printer" would go. */
export const STATIC_ADDRESS = '198.18.0.99';
export const STATIC_PRINTER_ADDRESS = '198.18.0.98';

/**
 * Forward, the v4 reverse zone of 198.18.0.0/16 and the nibble zone of
 * fd00:198:18::/64 (RFC 3596 §2.5): the zones lab/server-config.ts gives
 * the server to update.
 */
export const LAB_ZONES: readonly BindZone[] = [
  { name: 'leasehold.test', records: [`static A ${STATIC_ADDRESS}`, `printer.lab A ${STATIC_PRINTER_ADDRESS}`] },
  { name: '18.198.in-addr.arpa', records: ['99.0 PTR static.leasehold.test.'] },
  { name: '0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa' },
];

const NS_NAME = 'ns.leasehold.test.';

export function zoneFile(zone: BindZone, nsAddress: string): string {
  const lines = [
    '$TTL 60',
    `@ IN SOA ${NS_NAME} hostmaster.leasehold.test. 1 3600 600 86400 60`,
    `@ IN NS ${NS_NAME}`,
    // The name server's own address, where it is in the zone.
    ...(zone.name === 'leasehold.test' ? [`ns IN A ${nsAddress}`] : []),
    ...(zone.records ?? []),
  ];
  return `$ORIGIN ${zone.name}.\n${lines.join('\n')}\n`;
}

/** What named.conf may have besides the zones: BIND's statistics over HTTP on 127.0.0.1 (the benchmarks count UPDATEs with it). */
export interface NamedOptions {
  statisticsPort?: number;
}

/** named.conf: everything (PID, journals, session key) inside `dir`; no recursion, no notify. */
export function namedConf(dir: string, address: string, port: number, zones: readonly BindZone[], keyNames: readonly string[], o: NamedOptions = {}): string {
  const allow = keyNames.map((k) => `key "${k}";`).join(' ');
  const statistics = o.statisticsPort === undefined ? '' : `statistics-channels { inet 127.0.0.1 port ${o.statisticsPort} allow { 127.0.0.1; }; };\n`;
  return `options {
  directory "${dir}";
  pid-file "${join(dir, 'named.pid')}";
  session-keyfile "${join(dir, 'session.key')}";
  managed-keys-directory "${dir}";
  listen-on port ${port} { ${address}; 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
  allow-query { any; };
};
controls { };
${statistics}include "${join(dir, 'keys.conf')}";
${zones.map((z) => `zone "${z.name}" { type primary; file "${z.name}.zone"; allow-update { ${allow} }; };`).join('\n')}
`;
}

/**
 * Writes named.conf and keys.conf into `dir`, and each zone file unless it
 * is already there: a restarted named rolls its journal (.jnl) forward onto
 * the zone file it was written for, and a fresh serial-1 file under an old
 * journal makes named refuse the zone ("journal out of sync with zone").
 */
export function writeBindConfig(dir: string, address: string, port: number, zones: readonly BindZone[], keyFileText: string, o: NamedOptions = {}): void {
  const keyNames = parseTsigKeyFile(keyFileText, 'keys.conf').map((k) => k.name);
  writeFileSync(join(dir, 'keys.conf'), keyFileText);
  for (const zone of zones) {
    const file = join(dir, `${zone.name}.zone`);
    if (!existsSync(file)) writeFileSync(file, zoneFile(zone, address));
  }
  writeFileSync(join(dir, 'named.conf'), namedConf(dir, address, port, zones, keyNames, o));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, address, keyFile] = process.argv.slice(2);
  if (!dir || !address || !keyFile) {
    process.stderr.write('usage: bind-config DIR ADDRESS KEYFILE\n');
    process.exit(2);
  }
  writeBindConfig(resolve(dir), address, 53, LAB_ZONES, readFileSync(keyFile, 'utf8'));
}
