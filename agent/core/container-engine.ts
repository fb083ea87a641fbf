/**
 * The container engine as far as the agent needs it, in our own types. The
 * real one is Docker through dockerode (io/docker.ts); unit tests use a fake.
 */
export interface ContainerEngine {
  /** A name, a full id or an unambiguous id prefix. */
  inspect(ref: string): Promise<ContainerFacts>;
  /**
   * Ids of the containers running, or being started. Docker records a
   * container as running only once its start has finished, and a network
   * driver's container is adopted before that (between Join and the end of
   * the start): read as gone, its attachment would be released at once.
   */
  liveIds(): Promise<Set<string>>;
  /** Running containers that carry the attach label (for `worker`, when given). */
  labelled(worker?: string): Promise<{ id: string; bridge: string }[]>;
  /**
   * Container start/die/destroy events as they happen; the returned
   * function stops following.
   */
  followEvents(
    /** `timeMs`: when the engine stamped the event (its `timeNano`), for the watcher's lag metric. */
    onEvent: (action: string, id: string, labels: Record<string, string>, timeMs?: number) => void,
    onEnd: (err?: Error) => void,
  ): Promise<() => void>;
}

export interface ContainerFacts {
  id: string;
  name: string;
  pid: number;
  running: boolean;
  networkMode: string;
  labels: Record<string, string>;
  resolvConfPath?: string;
}

/** Labels the agent reads (ARCHITECTURE.md, "The flow of one attach"). */
export const ATTACH_LABEL = 'leasehold.attach';
export const APP_LABEL = 'leasehold.app';
/**
 * Which worker should attach a labelled container, for agents that share one
 * engine (the lab's workers are namespaces on one machine). Agents started
 * with --worker attach only containers whose label names them.
 */
export const WORKER_LABEL = 'leasehold.worker';
