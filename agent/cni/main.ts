import { existsSync } from 'node:fs';
import { controlSocketPath } from '../core/control-protocol.ts';
import { DEFAULT_DOCKER_SOCKET, type OperationRequest } from '../core/requests.ts';
import type { CniAttachment } from '../core/cni-attachment.ts';
import { sendToDaemon } from '../io/control-client.ts';
import {
  addRequest,
  podIdentity,
  addResult,
  checkCommandVersion,
  checkExpectation,
  CNI_ERRORS,
  cniKey,
  CniError,
  configVersion,
  errorJson,
  LATEST_VERSION,
  parseConfig,
  parseEnvironment,
  parseStdin,
  staleAttachments,
  versionResult,
  type CniCommand,
  type LeaseholdCniConfig,
} from './cni-protocol.ts';

/**
 * The `leasehold` CNI plugin (installed as <CNI bin dir>/leasehold): one
 * process per command, the command in CNI_COMMAND and the network config on
 * stdin, as a runtime runs it (CNI spec 1.1.0). The work is the agent's:
 * every command is a typed operation to the worker's `agent watch` on its
 * control socket, so the leases live in the agent's durable state and are
 * supervised there (an agent restart keeps them). Only Node built-ins and
 * pure modules are loaded: a runtime waits for every ADD.
 *
 * Success prints the result (ADD, VERSION) or nothing; a failure prints the
 * spec's error object on stdout and exits 1.
 */

/** STATUS answers quickly: a runtime polls it. */
const STATUS_TIMEOUT_MS = 2000;
/** DEL, CHECK and GC are a few `ip` calls in the agent. */
const OPERATION_TIMEOUT_MS = 15_000;

async function main(): Promise<number> {
  let version = LATEST_VERSION;
  try {
    const stdin = await readStdin();
    // Errors answer in the config's version when it has a usable one, whatever else is wrong.
    version = configVersion(parseStdinOrUndefined(stdin));
    const env = parseEnvironment(process.env);
    if (env.command === 'VERSION') {
      print(versionResult());
      return 0;
    }
    const raw = parseStdin(stdin);
    const config = parseConfig(raw);
    checkCommandVersion(env.command, config.cniVersion);
    const ask = <T>(operation: OperationRequest, timeoutMs: number) => askAgent<T>(config, env.command, operation, timeoutMs);
    switch (env.command) {
      case 'ADD': {
        // Checked here too, to answer with the spec's code for it (3) before anything is asked or made.
        if (!existsSync(env.netns!)) throw new CniError(CNI_ERRORS.unknownContainer, `CNI_NETNS ${env.netns} does not exist`);
        // Built first: a bad K8S_POD_NAMESPACE is refused before the agent is asked anything.
        const pod = podIdentity(env.args);
        const request = addRequest(config, env, pod);
        // The runtime logs a plugin's stderr: say why a pod is not under its own name.
        if (pod.note) process.stderr.write(`leasehold: ${pod.note}\n`);
        const status = await ask<{ problems: string[] }>({ op: 'cni-status', request: { bridge: config.bridge, bridgeNetns: config.bridgeNetns } }, STATUS_TIMEOUT_MS);
        if (status.problems.length > 0) throw new CniError(CNI_ERRORS.invalidConfig, status.problems.join('; '));
        const attachment = await ask<CniAttachment>({ op: 'cni-add', request }, config.timeoutMs + 5000);
        print(addResult(attachment, env.netns!, config.cniVersion));
        return 0;
      }
      case 'DEL':
        await ask({ op: 'cni-del', request: cniKey(config, env) }, OPERATION_TIMEOUT_MS);
        return 0;
      case 'CHECK': {
        const expect = checkExpectation(config.prevResult, env.ifname!);
        const { problems } = await ask<{ problems: string[] }>({ op: 'cni-check', request: { ...cniKey(config, env), ...expect } }, OPERATION_TIMEOUT_MS);
        if (problems.length > 0) throw new CniError(CNI_ERRORS.attachFailed, problems.join('; '));
        return 0;
      }
      case 'STATUS': {
        const { problems } = await ask<{ problems: string[] }>({ op: 'cni-status', request: { bridge: config.bridge, bridgeNetns: config.bridgeNetns } }, STATUS_TIMEOUT_MS);
        if (problems.length > 0) throw new CniError(CNI_ERRORS.notAvailable, problems.join('; '));
        return 0;
      }
      case 'GC':
        await garbageCollect(config, ask);
        return 0;
    }
  } catch (err) {
    const failure = err instanceof CniError ? err : new CniError(CNI_ERRORS.ioFailure, (err as Error).message ?? String(err));
    print(errorJson(failure, version));
    return 1;
  }
}

/**
 * GC (CNI spec 1.1 §"GC"): every attachment the agent holds on this
 * network that `cni.dev/valid-attachments` does not list is released; a
 * failure does not stop the others, and all of them are reported together.
 */
async function garbageCollect(config: LeaseholdCniConfig, ask: <T>(operation: OperationRequest, timeoutMs: number) => Promise<T>): Promise<void> {
  const { attachments } = await ask<{ attachments: { network: string; containerId: string; ifname: string }[] }>(
    { op: 'cni-list', request: { network: config.name } },
    OPERATION_TIMEOUT_MS,
  );
  const failures: string[] = [];
  for (const key of staleAttachments(attachments, config.validAttachments ?? [])) {
    try {
      await ask({ op: 'cni-del', request: key }, OPERATION_TIMEOUT_MS);
    } catch (err) {
      failures.push(`${key.containerId}/${key.ifname}: ${(err as Error).message}`);
    }
  }
  if (failures.length > 0) throw new CniError(CNI_ERRORS.attachFailed, `GC could not release ${failures.length} attachment(s)`, failures.join('; '));
}

async function askAgent<T>(config: LeaseholdCniConfig, command: CniCommand, operation: OperationRequest, timeoutMs: number): Promise<T> {
  const socket = controlSocketPath(config.agentRunDir);
  // STATUS's own code for "cannot serve ADD now"; the others tell the runtime to try again.
  const unavailable = command === 'STATUS' ? CNI_ERRORS.notAvailable : CNI_ERRORS.tryAgainLater;
  const outcome = await sendToDaemon(config.agentRunDir, operation, { dockerSocket: DEFAULT_DOCKER_SOCKET, log: { level: 'warn', pretty: false } }, timeoutMs);
  if (outcome.kind === 'unreachable') {
    throw new CniError(unavailable, `the leasehold agent is not running (no answer on ${socket}); start agent watch`);
  }
  if (outcome.kind === 'lost') throw new CniError(unavailable, `the leasehold agent on ${socket} did not answer: ${outcome.reason}`);
  const response = outcome.response;
  process.stderr.write('stderr' in response ? response.stderr : '');
  switch (response.kind) {
    case 'result':
      return response.result as T;
    case 'failed':
      throw new CniError(CNI_ERRORS.attachFailed, response.message);
    case 'invalid':
      throw new CniError(CNI_ERRORS.invalidConfig, `the agent refused the request: ${response.problem}`);
    case 'run-locally':
      throw new CniError(unavailable, `the agent on ${socket} cannot serve this plugin: ${response.reason}`);
  }
}

function parseStdinOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

process.exitCode = await main();
