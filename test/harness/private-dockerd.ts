// A second dockerd of the test's own (data root, exec root, PID file and API
// socket in a temp dir; the running containerd, in a containerd namespace of
// its own), which a test may stop and start without touching the shared
// engine. No bridge, no iptables rules, no ip_forward change: the host's
// networking stays as it is. Network plugins are found by socket name in
// /run/docker/plugins, a path dockerd hard-codes (not under --exec-root),
// so a driver serving this engine needs a name unique to the test.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_PATH } from './netns.ts';
import { pollUntil } from './poll.ts';
import { runCommand, type CommandResult } from './run-command.ts';
import { TrackedProcess } from './tracked-process.ts';

const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

export class PrivateDockerd {
  #engine: TrackedProcess | undefined;
  readonly namespace = `lht-${randomBytes(4).toString('hex')}`;

  private constructor(readonly dir: string) {}

  static async create(): Promise<PrivateDockerd> {
    return new PrivateDockerd(await mkdtemp(join(tmpdir(), 'lh-dockerd-')));
  }

  get socket(): string {
    return join(this.dir, 'docker.sock');
  }

  /** Where this engine keeps its containers (the driver's --docker-root). */
  get dataRoot(): string {
    return join(this.dir, 'data');
  }

  get pid(): number | undefined {
    return this.#engine?.running ? this.#engine.pid : undefined;
  }

  /** Starts dockerd and resolves once its API answers (`docker info`), within `timeoutMs`. */
  async start(timeoutMs = 15_000): Promise<void> {
    this.#engine = new TrackedProcess(`dockerd ${this.namespace}`, [
      'dockerd', '--data-root', this.dataRoot, '--exec-root', join(this.dir, 'exec'), '--pidfile', join(this.dir, 'dockerd.pid'),
      '-H', `unix://${this.socket}`, '--containerd', CONTAINERD_SOCKET,
      '--containerd-namespace', this.namespace, '--containerd-plugins-namespace', `${this.namespace}p`,
      '--bridge=none', '--iptables=false', '--ip-forward=false', '--ip-masq=false',
    ], { env: { ...process.env, PATH: SYSTEM_PATH } });
    const engine = this.#engine;
    await pollUntil(`dockerd ${this.namespace} to answer`, async () => {
      if (!engine.running) throw new Error(`dockerd exited: ${engine.tail(30)}`);
      return existsSync(this.socket) && (await this.docker(['info', '--format', '{{.ServerVersion}}'], 5000)).code === 0;
    }, { timeoutMs, intervalMs: 100, describe: () => engine.tail(30) });
  }

  /** SIGTERM (dockerd stops its containers), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    await this.#engine?.stop(graceMs);
  }

  tail(lines = 40): string {
    return this.#engine?.tail(lines) ?? '';
  }

  /** `/usr/bin/docker -H <ours> …` (Debian's CLI, through SYSTEM_PATH). */
  async docker(args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
    return await runCommand(['docker', '-H', `unix://${this.socket}`, ...args], { timeoutMs });
  }

  async dockerOk(args: readonly string[], timeoutMs?: number): Promise<string> {
    const r = await this.docker(args, timeoutMs);
    if (r.code !== 0) throw new Error(`docker -H ${this.socket} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Copies an image of the shared engine into this one (`docker save` | `docker load`, through a file). */
  async loadImage(image: string): Promise<void> {
    const archive = join(this.dir, 'image.tar');
    const saved = await runCommand(['docker', 'save', '-o', archive, image], { timeoutMs: 60_000 });
    if (saved.code !== 0) throw new Error(`docker save ${image}: ${saved.stderr}`);
    await this.dockerOk(['load', '-i', archive]);
    await rm(archive, { force: true });
  }

  /** Removes every container, stops the engine by PID, drops its containerd namespaces and its directory. */
  async destroy(): Promise<void> {
    if (this.pid) {
      const ids = (await this.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', ...ids]);
    }
    await this.stop(10_000);
    for (const ns of [this.namespace, `${this.namespace}p`]) await runCommand(['ctr', 'namespaces', 'rm', ns], { timeoutMs: 10_000 });
    await rm(this.dir, { recursive: true, force: true });
  }
}
