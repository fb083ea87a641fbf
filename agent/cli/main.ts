#!/usr/bin/env node
import { runThroughDaemon } from '../io/control-client.ts';

/**
 * `agent`: attaches Docker containers run with --net none (or named network
 * namespaces) to a bridge with a DHCP lease. When an `agent watch` runs for
 * the same run directory, one-shot commands are run by it over its control
 * socket (core/control-protocol.ts); otherwise, or when it declines, here.
 * This file loads nothing else first: the CLI's start-up is most of an
 * attach's latency, and yargs plus dockerode alone cost half a second.
 */
const args = process.argv.slice(2);
const served = await runThroughDaemon(args);
if (served !== undefined) {
  process.exitCode = served;
} else {
  const { runCli, processIo } = await import('./commands.ts');
  process.exitCode = await runCli(args, processIo());
}
