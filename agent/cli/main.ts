#!/usr/bin/env node
import { askDaemon } from '../io/control-client.ts';
import { isServed, parseCommandLine } from './command-line.ts';
import { failureLine, printResult, processIo } from './output.ts';

/**
 * `agent`: attaches Docker containers run with --net none (or named network
 * namespaces) to a bridge with a DHCP lease. The command line is parsed
 * here (cli/command-line.ts): help and usage errors never go further. When
 * an `agent watch` runs for the same run directory, the operation is done
 * by it over its control socket (core/control-protocol.ts); otherwise, or
 * when it declines, here. This file loads nothing but built-ins and the
 * parser first: a CLI's start-up is most of an attach's latency, and the
 * agent with its Docker client costs a good part of a second to load.
 */
const io = processIo();
const parsed = parseCommandLine(process.argv.slice(2), { cwd: process.cwd(), env: process.env });

async function main(): Promise<number> {
  if (parsed.kind === 'help') {
    io.stdout(parsed.text + '\n');
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    io.stderr(`${parsed.help}\n\nerror: ${parsed.message}\n`);
    return 2;
  }
  const { globals, command } = parsed;
  if (!isServed(command)) {
    const { runWatchHere } = await import('./commands.ts');
    return await runWatchHere(globals, command.request, io);
  }
  const log = { level: globals.logLevel ?? 'warn', pretty: io.stderrIsTTY } as const;
  const answer = await askDaemon(globals.runDir, command, { dockerSocket: globals.dockerSocket, log }, io.stderr);
  if (answer?.kind === 'result') {
    io.stderr(answer.stderr);
    printResult(io, answer.result, globals.json);
    return 0;
  }
  if (answer?.kind === 'failed') {
    io.stderr(answer.stderr + failureLine(answer.message));
    return 1;
  }
  if (answer?.kind === 'invalid') {
    io.stderr(failureLine(`bad control request: ${answer.problem}`));
    return 2;
  }
  const { runOperationHere } = await import('./commands.ts');
  return await runOperationHere(globals, command, io);
}

process.exitCode = await main();
