import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { ExecutionContext, TestFn } from 'ava';
import Docker from 'dockerode';
import { GenericContainer } from 'testcontainers';
import { processStartTicks, processState } from '../../agent/io/process.ts';
import { pollUntil } from './poll.ts';

/**
 * Docker for the tests: containers run with `--net none`, as the agent
 * expects them (ARCHITECTURE.md, "The flow of one attach"), started through
 * testcontainers and labelled so that a crashed run can be swept. The engine
 * and the images are prepared by `make docker` (lab/docker-engine.sh,
 * lab/images/build.sh); this module only checks they are there.
 */

/** The local images lab/images/build.sh builds; no registry is reachable. */
export const TEST_IMAGES = {
  busybox: 'leasehold/busybox:latest',
  httpd: 'leasehold/httpd:latest',
} as const;

/** Every test container carries it (CONVENTIONS.md): `leasehold.test=true`. */
export const TEST_LABEL = 'leasehold.test';
/** The run (one ava worker process) that started the container. */
export const RUN_LABEL = 'leasehold.test.run';
/** `<pid>:<start time>` of that process: a sweep spares the containers of a run still alive. */
export const OWNER_LABEL = 'leasehold.test.owner';

const MAKE_HINT = 'run `make docker` (lab/docker-engine.sh start, then lab/images/build.sh)';

let client: Docker | undefined;
let ready: Promise<void> | undefined;
let runId: string | undefined;
let owner: Promise<string> | undefined;

/** dockerode on DOCKER_HOST or /var/run/docker.sock, like testcontainers. */
export function dockerClient(): Docker {
  client ??= new Docker();
  return client;
}

/** This process's run id, the value of `leasehold.test.run` on its containers. */
export function testRunId(): string {
  runId ??= `${process.pid}-${randomBytes(3).toString('hex')}`;
  return runId;
}

/**
 * `<pid>:<start time in clock ticks>` (proc(5), /proc/pid/stat field 22), or
 * undefined when no such process runs: the pair names one process even
 * after its PID is reused.
 */
function processIdentity(pid: number): string | undefined {
  const ticks = processStartTicks(pid);
  return ticks === undefined ? undefined : `${pid}:${ticks}`;
}

function ownerIdentity(): Promise<string> {
  owner ??= Promise.resolve(processIdentity(process.pid) ?? `${process.pid}:?`);
  return owner;
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

/**
 * Throws a clear error unless the engine answers and the test images exist.
 * The Makefile prepares both; a test never starts the engine or builds.
 */
export async function ensureDockerReady(): Promise<void> {
  ready ??= (async () => {
    try {
      await dockerClient().ping();
    } catch (error) {
      throw new Error(`the Docker engine does not answer (${(error as Error).message}): ${MAKE_HINT}`, { cause: error });
    }
    for (const image of Object.values(TEST_IMAGES)) await ensureImage(image);
  })();
  // A failure is not remembered: the next call checks again.
  ready.catch(() => {
    ready = undefined;
  });
  return ready;
}

async function ensureImage(image: string): Promise<void> {
  try {
    await dockerClient().getImage(image).inspect();
  } catch (error) {
    if (statusOf(error) === 404) throw new Error(`image ${image} is missing: ${MAKE_HINT}`, { cause: error });
    throw new Error(`docker image inspect ${image}: ${(error as Error).message}`, { cause: error });
  }
}

/** testcontainers reads these when it first talks to the engine. */
function configureTestcontainers(): void {
  // Ryuk, the reaper container, would need a registry; our labels and
  // sweepTestContainers() do its job.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  // The engine has no bridge network: the host is not found through one.
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
}

export interface NetNoneContainerSpec {
  image: string;
  /** Default `lt-ct-<random>`. */
  name?: string;
  labels?: Record<string, string>;
  /** Default: the image's CMD. It must keep running (`sleep 600`…): a container that exits at once is an error. */
  command?: string[];
  env?: Record<string, string>;
  /** Default: this process's testRunId(). */
  runId?: string;
  /** A Docker network to run on instead of `none` (a Leasehold driver's network: `docker run --network`). */
  network?: string;
}

export interface ContainerExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface NetNoneContainer {
  readonly id: string;
  /** The first 12 hex digits: the container's hostname, as Docker shows it. */
  readonly shortId: string;
  readonly name: string;
  /** PID of its main process on the host: `/proc/<pid>/ns/net` is its netns. */
  readonly pid: number;
  /** The host file Docker bind-mounts on the container's /etc/resolv.conf. */
  readonly resolvConfPath: string;
  readonly labels: Readonly<Record<string, string>>;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ContainerExecResult>;
  /** stdout and stderr so far, for failure messages. */
  logs(): Promise<string>;
  /** Kills and removes the container (volumes too). Safe to call twice, or after a sweep. */
  stop(): Promise<void>;
}

/**
 * Starts `spec.image` with `--net none` (only `lo` inside), labelled
 * `leasehold.test`, `leasehold.test.run=<runId>` and the owner process, and
 * waits until its main process runs. The image must exist locally: nothing
 * is ever pulled.
 */
export async function startNetNoneContainer(spec: NetNoneContainerSpec): Promise<NetNoneContainer> {
  configureTestcontainers();
  await ensureImage(spec.image);
  const labels = {
    ...spec.labels,
    [TEST_LABEL]: 'true',
    [RUN_LABEL]: spec.runId ?? testRunId(),
    [OWNER_LABEL]: await ownerIdentity(),
  };
  let container = new GenericContainer(spec.image)
    .withNetworkMode(spec.network ?? 'none')
    .withName(spec.name ?? `lt-ct-${randomBytes(3).toString('hex')}`)
    .withLabels(labels)
    .withPullPolicy({ shouldPull: () => false });
  if (spec.command) container = container.withCommand(spec.command);
  if (spec.env) container = container.withEnvironment(spec.env);
  const started = await container.start();
  const id = started.getId();
  const handle = dockerClient().getContainer(id);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= started.stop({ timeout: 0, remove: true, removeVolumes: true }).then(
      () => undefined,
      // Already gone (swept, or exited and removed): what stop() wants anyway.
      () => removeContainer(id),
    );
    return stopping;
  };

  try {
    const info = await settledState(handle, spec.image);
    if (!info.State.Running) {
      throw new Error(`container ${id.slice(0, 12)} (${spec.image}) exited at once (exit code ${info.State.ExitCode}):\n${await containerLogs(id)}`);
    }
    return {
      id,
      shortId: id.slice(0, 12),
      name: info.Name.replace(/^\//, ''),
      pid: info.State.Pid,
      resolvConfPath: info.ResolvConfPath,
      labels: info.Config.Labels ?? {},
      exec: (argv, options) => execInContainer(id, argv, options),
      logs: () => containerLogs(id),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * What Docker says of a container just started, once it is decided:
 * exited (with its exit code), or running with its main process in the
 * container's command and waiting in the kernel (state S: `sleep`, a
 * shell's `wait`, a server's `accept`). One inspect cannot tell: `docker
 * start` returns once runc has released the process, which may still be
 * runc's own init, or a `true` that has not exited yet. So this polls
 * Docker and /proc until one of the two holds; no delay decides it.
 */
async function settledState(handle: Docker.Container, image: string): Promise<Docker.ContainerInspectInfo> {
  let last = '';
  return pollUntil(
    `container ${handle.id.slice(0, 12)} (${image}) to exit or to wait in its command`,
    async () => {
      const info = await handle.inspect();
      const { Status: status, Running: running, Pid: pid } = info.State;
      if (!running) return status === 'exited' || status === 'dead' ? info : undefined;
      const state = pid > 0 ? processState(pid) : undefined;
      last = `docker: ${status}, pid ${pid}, /proc state ${state ?? 'gone'}`;
      return state === 'S' && !isRuncInit(pid) ? info : undefined;
    },
    // A main process that never waits (a busy loop) is not what a test starts.
    { timeoutMs: 30_000, intervalMs: 5, describe: () => last },
  );
}

/** runc's `runc init`, which becomes the container's command when runc starts it (runc start). */
function isRuncInit(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  } catch {
    return true; // gone meanwhile: Docker will say exited
  }
  return argv[1] === 'init' && /runc/.test(argv[0]);
}

/** Force-removes a container; one already gone counts as removed. */
async function removeContainer(id: string): Promise<void> {
  try {
    await dockerClient().getContainer(id).remove({ force: true, v: true });
  } catch (error) {
    // 404: no such container; 409: its removal is already in progress.
    if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
  }
}

/**
 * Removes test containers: those of `runId` when given; otherwise every one
 * whose run's process has exited (a crashed or killed run), never one of a
 * run still alive, so that runs side by side do not sweep each other.
 * Returns the ids removed.
 */
export async function sweepTestContainers(runId?: string): Promise<string[]> {
  const list = await dockerClient().listContainers({
    all: true,
    filters: { label: [runId === undefined ? RUN_LABEL : `${RUN_LABEL}=${runId}`] },
  });
  const doomed: string[] = [];
  for (const entry of list) {
    if (runId === undefined) {
      const recorded = entry.Labels[OWNER_LABEL] ?? '';
      const pid = Number(recorded.split(':')[0]);
      if (Number.isInteger(pid) && pid > 0 && processIdentity(pid) === recorded) continue;
    }
    doomed.push(entry.Id);
  }
  await Promise.all(doomed.map(removeContainer));
  return doomed;
}

export interface ExecOptions {
  /** Default 30 s; the exec is abandoned (not killed) after it. */
  timeoutMs?: number;
  env?: Record<string, string>;
  user?: string;
}

/**
 * Runs argv (never through a shell) in a running container, like `docker
 * exec`, and collects its output and exit code.
 */
export async function execInContainer(id: string, argv: readonly string[], options: ExecOptions = {}): Promise<ContainerExecResult> {
  const docker = dockerClient();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const exec = await docker.getContainer(id).exec({
    Cmd: [...argv],
    AttachStdout: true,
    AttachStderr: true,
    Env: options.env ? Object.entries(options.env).map(([k, v]) => `${k}=${v}`) : undefined,
    User: options.user,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = collect();
  const stderr = collect();
  docker.modem.demuxStream(stream, stdout.sink, stderr.sink);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        stream.once('end', resolve);
        stream.once('close', resolve);
        stream.once('error', reject);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`docker exec ${argv.join(' ')} in ${id.slice(0, 12)}: no end after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
  // The stream ends as the process exits; the engine records the exit code a moment later.
  const exitCode = await pollUntil(`exit code of docker exec ${argv.join(' ')}`, async () => {
    const info = await exec.inspect();
    return !info.Running && info.ExitCode !== null && info.ExitCode;
  }, { timeoutMs: 5000, intervalMs: 20 }).catch(async () => (await exec.inspect()).ExitCode ?? -1);
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

function collect(): { sink: PassThrough; text: () => string } {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** stdout and stderr of a container without a TTY, in order. */
async function containerLogs(id: string): Promise<string> {
  try {
    const raw = await dockerClient().getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail: 200 });
    return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
  } catch (error) {
    return `(no logs: ${(error as Error).message})`;
  }
}

/** Docker's multiplexed stream: 8-byte headers (stream, 0, 0, 0, size u32 BE) before each frame. */
function demux(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

export interface ContainerFixture {
  /** The run id on this file's containers. */
  readonly runId: string;
  /** A container stopped and removed with the test, pass or fail; on failure the log shows its output. */
  start(t: ExecutionContext, spec: NetNoneContainerSpec): Promise<NetNoneContainer>;
}

/**
 * For a test file that starts containers: before its tests, checks the
 * engine and images and sweeps what crashed runs left; after them, pass or
 * fail, removes every container this run still has.
 */
export function useContainers(test: TestFn): ContainerFixture {
  test.before(async () => {
    await ensureDockerReady();
    await sweepTestContainers();
  });
  test.after.always(() => sweepTestContainers(testRunId()));
  return {
    runId: testRunId(),
    async start(t, spec) {
      const container = await startNetNoneContainer(spec);
      t.teardown(async () => {
        if (!t.passed) t.log(`--- container ${container.name} (${container.shortId}, ${spec.image}) ---\n${await container.logs()}`);
        await container.stop();
      });
      return container;
    },
  };
}
