import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LeaseholdError } from '../../lib/core/errors.ts';
import type { Attachment, ClientProcess } from '../core/attachment.ts';
import type { ClientStopOutcome, DhcpClients, StartClientOptions } from '../core/dhcp-clients.ts';
import { SYSTEM_PATH } from './exec.ts';
import { isSameProcess, processStartTicks, waitForExit } from './process.ts';

/**
 * The supervised DHCP client of one attachment: busybox udhcpc, entered into
 * the container's netns with nsenter (a Node process cannot change its own
 * netns). It runs detached from the agent, so an agent restart or crash does
 * not cost a lease; the agent finds it again by PID + start time.
 */

export class DhcpClientError extends LeaseholdError {
  readonly code = 'E_DHCP_CLIENT';
}

// Source (agent/io/) and build (dist/agent/io/) layouts both reach the hook.
const HOOK_CANDIDATES = ['../hooks/udhcpc-hook.sh', '../../../agent/hooks/udhcpc-hook.sh'];

export function hookScriptPath(): string {
  for (const rel of HOOK_CANDIDATES) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new DhcpClientError('udhcpc hook script not found next to the agent');
}

/** udhcpc's argv: a pure function of the attachment, so tests can read it. */
export function udhcpcArgv(a: Attachment, hook: string, requestIp?: string): string[] {
  return [
    'nsenter', `--net=/run/netns/${a.netns}`,
    'busybox', 'udhcpc',
    '-f', // foreground: the agent supervises it
    '-R', // DHCPRELEASE on SIGTERM (RFC 2131 §4.4.6), so detach frees the lease
    '-i', a.ifname,
    '-s', hook,
    '-x', `hostname:${a.hostname}`,
    '-F', a.fqdn, // option 81 (RFC 4702): the server registers <id>.<app>.<domain>
    '-x', `0x3d:${a.clientIdHex}`,
    '-O', 'search', // option 119 for resolv.conf
    // Retransmit DISCOVER after 1 s, three times, then pause 2 s and start
    // over, for ever: the agent's timeout decides when an attach has failed.
    '-T', '1', '-t', '3', '-A', '2',
    ...(requestIp ? ['-r', requestIp] : []),
  ];
}

function startClient(a: Attachment, opts: StartClientOptions): ClientProcess {
  const argv = udhcpcArgv(a, hookScriptPath(), opts.requestIp);
  const log = openSync(opts.logFile, 'a');
  try {
    const child = spawn(argv[0], argv.slice(1), {
      detached: true, // own session: survives the agent, and the agent's terminal
      stdio: ['ignore', log, log],
      env: {
        PATH: SYSTEM_PATH,
        LH_LEASE_FILE: opts.leaseFile,
        LH_RESOLV_CONF: a.resolvConfPath ?? '',
        LH_KEEP_ADDRESS: opts.requestIp ? '1' : '0',
      },
    });
    child.unref();
    const pid = child.pid;
    if (!pid) throw new DhcpClientError(`could not start ${argv.slice(2, 4).join(' ')}`);
    const startTicks = processStartTicks(pid);
    if (startTicks === undefined) throw new DhcpClientError(`DHCP client (pid ${pid}) exited at once; see ${opts.logFile}`);
    return { pid, startTicks, restarts: 0 };
  } finally {
    closeSync(log);
  }
}

function isRunning(c: ClientProcess): boolean {
  return isSameProcess(c.pid, c.startTicks);
}

/**
 * SIGTERM, on which udhcpc (-R) sends DHCPRELEASE and exits; only a client
 * that ignores it for `graceMs` gets SIGKILL.
 */
async function stopClient(c: ClientProcess, graceMs = 3000): Promise<ClientStopOutcome> {
  if (!isRunning(c)) return 'not-running';
  try {
    process.kill(c.pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  if (await waitForExit(c.pid, c.startTicks, graceMs)) return 'released';
  try {
    process.kill(c.pid, 'SIGKILL');
  } catch {
    // exited in between
  }
  await waitForExit(c.pid, c.startTicks, 1000);
  return 'killed';
}

export const udhcpcClients: DhcpClients = {
  start: startClient,
  isRunning,
  stop: (c) => stopClient(c),
};
