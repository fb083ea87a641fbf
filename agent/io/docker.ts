import type Docker from 'dockerode';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import { ATTACH_LABEL, WORKER_LABEL, type ContainerEngine, type ContainerFacts } from '../core/container-engine.ts';
import { dockerSocketPath } from '../core/requests.ts';

export class ContainerError extends LeaseholdError {
  readonly code = 'E_CONTAINER';
}

/** The Docker engine, through dockerode, as far as the agent needs it. */
export class DockerEngine implements ContainerEngine {
  private client?: Promise<Docker>;

  constructor(private readonly socketPath = dockerSocketPath(undefined, process.env.DOCKER_SOCKET)) {}

  /**
   * dockerode is loaded on first use: it costs about 0.3 s of start-up, which
   * an `agent attach --netns` (or `agent inspect`) should not pay.
   */
  private get docker(): Promise<Docker> {
    this.client ??= import('dockerode').then(({ default: Dockerode }) => new Dockerode({ socketPath: this.socketPath }));
    return this.client;
  }

  /** A name, a full id or an unambiguous id prefix: Docker resolves all three. */
  async inspect(ref: string): Promise<ContainerFacts> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await (await this.docker).getContainer(ref).inspect();
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) throw new ContainerError(`no such container: ${ref}`);
      if ((err as { code?: string }).code === 'ENOENT' || (err as { code?: string }).code === 'ECONNREFUSED') {
        throw new ContainerError(`cannot reach the Docker engine (${reasonOf(err)}); is dockerd running?`);
      }
      throw new ContainerError(`docker inspect ${ref}: ${reasonOf(err)}`, { cause: err });
    }
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      pid: info.State.Pid,
      running: info.State.Running,
      networkMode: info.HostConfig.NetworkMode ?? '',
      labels: info.Config.Labels ?? {},
      resolvConfPath: info.ResolvConfPath || undefined,
    };
  }

  /**
   * Ids of the running (or paused) containers and of those in `created`:
   * a container being started is `created` until its start returns, which
   * is after the network driver's Join and so after an adoption. A
   * container that never started has no attachment to keep.
   */
  async liveIds(): Promise<Set<string>> {
    const list = await (await this.docker).listContainers({ all: true, filters: { status: ['running', 'paused', 'created'] } });
    return new Set(list.map((c) => c.Id));
  }

  /** Running containers that carry the attach label. */
  async labelled(worker?: string): Promise<{ id: string; bridge: string }[]> {
    const label = [ATTACH_LABEL, ...(worker ? [`${WORKER_LABEL}=${worker}`] : [])];
    const list = await (await this.docker).listContainers({ all: false, filters: { label } });
    return list.map((c) => ({ id: c.Id, bridge: c.Labels[ATTACH_LABEL] }));
  }

  /** Container start/die/destroy events from the engine's event stream (one JSON object per line). */
  async followEvents(
    /** `timeMs`: when the engine stamped the event (its `timeNano`), for the watcher's lag metric. */
    onEvent: (action: string, id: string, labels: Record<string, string>, timeMs?: number) => void,
    onEnd: (err?: Error) => void,
  ): Promise<() => void> {
    const stream = (await (await this.docker).getEvents({
      filters: { type: ['container'], event: ['start', 'die', 'destroy'] },
    })) as NodeJS.ReadableStream & { destroy(): void };
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        try {
          const e = JSON.parse(line) as { Action?: string; status?: string; id?: string; timeNano?: number; Actor?: { ID?: string; Attributes?: Record<string, string> } };
          const id = e.Actor?.ID ?? e.id;
          if (id) onEvent(e.Action ?? e.status ?? '', id, e.Actor?.Attributes ?? {}, typeof e.timeNano === 'number' ? e.timeNano / 1e6 : undefined);
        } catch {
          // A torn or foreign line: the periodic reconcile covers what it meant.
        }
      }
    });
    stream.on('error', (err: Error) => onEnd(err));
    stream.on('end', () => onEnd());
    return () => stream.destroy();
  }
}
