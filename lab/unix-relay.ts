/**
 * Forwards TCP connections on an address to a unix socket, byte for byte:
 * `agent watch` serves its /metrics on a unix socket in the machine's own
 * namespace, and Prometheus, inside the lab's namespaces, cannot scrape a
 * unix socket. lab/lab.sh runs one per worker inside the worker's namespace
 * (a unix socket is reached by its path from any network namespace):
 *
 *   ip netns exec P-w1 node dist/lab/unix-relay.js 198.18.0.11:9101 lab/run/agent-P-w1/metrics.sock
 */
import net from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIpv4 } from '../lib/wire/ipv4.ts';

const USAGE = 'usage: unix-relay IPV4:PORT SOCKET';

/** Listens on host:port; each connection is piped to a fresh connection to `socketPath`. */
export function startUnixRelay(host: string, port: number, socketPath: string): Promise<net.Server> {
  const server = net.createServer((inbound) => {
    const outbound = net.connect(socketPath);
    inbound.pipe(outbound).pipe(inbound);
    // Either side failing (the agent restarting) ends both: the scraper retries.
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  return new Promise((resolveServer, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolveServer(server));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const match = argv.length === 2 ? /^([^:]+):(\d{1,5})$/.exec(argv[0]) : null;
  if (!match || !isIpv4(match[1]) || Number(match[2]) > 65535) {
    process.stderr.write(`unix-relay: want IPV4:PORT and a socket path\n${USAGE}\n`);
    return 2;
  }
  try {
    await startUnixRelay(match[1], Number(match[2]), argv[1]);
  } catch (error) {
    process.stderr.write(`unix-relay: ${argv[0]}: ${(error as Error).message}\n`);
    return 1;
  }
  // The listening socket keeps the process running.
  process.stdout.write(`unix-relay: ${argv[0]} -> ${argv[1]}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
