import { reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { HostNetwork } from '../core/host-network.ts';
import {
  ACTIVATE_RESPONSE,
  CAPABILITIES_RESPONSE,
  DriverRequestError,
  endpointIds,
  errResponse,
  JOIN_RESPONSE,
  joinRequest,
  parseCreateEndpoint,
  parseCreateNetwork,
  type DriverEndpoint,
  type DriverNetwork,
} from './driver-protocol.ts';

/**
 * The Docker network driver's request handling: each call checked, its
 * records kept, its answer given at once. No handler calls the Docker API
 * or waits for DHCP or the sandbox — dockerd calls plugins with no timeout
 * and serves its own API only after restoring its containers, so either
 * would hang an engine start with auto-restart containers (docker-net-dhcp
 * #23/#44). The work that takes time (the adoption after Join, the release
 * after Leave) runs outside the request, through `endpoints`.
 */

export interface DriverRecords {
  network(id: string): Promise<DriverNetwork | undefined>;
  writeNetwork(n: DriverNetwork): Promise<void>;
  removeNetwork(id: string): Promise<void>;
  endpoint(id: string): Promise<DriverEndpoint | undefined>;
  writeEndpoint(e: DriverEndpoint): Promise<void>;
  removeEndpoint(id: string): Promise<void>;
  allEndpoints(): Promise<DriverEndpoint[]>;
}

export interface EndpointLifecycle {
  /** After Join: wire the container in, in the background. */
  adopt(network: DriverNetwork, endpoint: DriverEndpoint): void;
  /** Leave or DeleteEndpoint: release what the endpoint holds; safe to repeat. */
  release(endpoint: DriverEndpoint, reason: string): Promise<void>;
}

export interface DriverAnswer {
  status: number;
  body: unknown;
}

export class DockerDriver {
  constructor(
    private readonly records: DriverRecords,
    private readonly network: Pick<HostNetwork, 'netnsExists' | 'bridgeFacts'>,
    private readonly endpoints: EndpointLifecycle,
    private readonly log: Logger,
  ) {}

  async handle(path: string, body: unknown): Promise<DriverAnswer> {
    const handler = this.handlers[path];
    // Docker reads a 404 as "not implemented" (Program/RevokeExternalConnectivity, discovery, swarm allocation).
    if (!handler) return { status: 404, body: { Err: `404 page not found: ${path}` } };
    try {
      return { status: 200, body: await handler(body) };
    } catch (err) {
      const message = err instanceof DriverRequestError ? err.message : `leasehold: ${path}: ${reasonOf(err)}`;
      this.log.warn('driver-request-refused', { path, error: message });
      return { status: 200, body: errResponse(message) };
    }
  }

  private readonly handlers: Record<string, (body: unknown) => Promise<unknown>> = {
    '/Plugin.Activate': async () => ACTIVATE_RESPONSE,
    '/NetworkDriver.GetCapabilities': async () => CAPABILITIES_RESPONSE,
    '/NetworkDriver.CreateNetwork': async (body) => {
      const n = parseCreateNetwork(body);
      await this.checkBridge(n);
      await this.records.writeNetwork(n);
      this.log.info('driver-network-created', { network: n.networkId.slice(0, 12), bridge: n.bridge, bridgeNetns: n.bridgeNetns });
      return {};
    },
    '/NetworkDriver.DeleteNetwork': async (body) => {
      const b = body as { NetworkID?: unknown };
      if (typeof b?.NetworkID === 'string') await this.records.removeNetwork(b.NetworkID);
      return {};
    },
    '/NetworkDriver.CreateEndpoint': async (body) => {
      const { networkId, endpointId, mac } = parseCreateEndpoint(body);
      await this.knownNetwork(networkId);
      const existing = await this.records.endpoint(endpointId);
      if (!existing) await this.records.writeEndpoint({ networkId, endpointId, ...(mac && { mac }) });
      // No Interface in the answer: Docker then configures no address (DHCP will).
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': async (body) => {
      const { endpointId } = endpointIds(body, 'EndpointOperInfo');
      const e = await this.records.endpoint(endpointId);
      return { Value: e?.containerId ? { container: e.containerId.slice(0, 12) } : {} };
    },
    '/NetworkDriver.Join': async (body) => {
      const { networkId, endpointId, sandboxKey } = joinRequest(body);
      const network = await this.knownNetwork(networkId);
      const known = await this.records.endpoint(endpointId);
      if (!known) throw new DriverRequestError(`leasehold: Join: endpoint ${endpointId.slice(0, 12)} is not known (CreateEndpoint went to another agent?)`);
      const endpoint = { ...known, sandboxKey };
      await this.records.writeEndpoint(endpoint);
      this.endpoints.adopt(network, endpoint);
      return JOIN_RESPONSE;
    },
    '/NetworkDriver.Leave': async (body) => {
      // Unknown endpoints succeed: at its start dockerd cleans up the sandboxes of an earlier run.
      const { endpointId } = endpointIds(body, 'Leave');
      const e = await this.records.endpoint(endpointId);
      if (e) {
        await this.endpoints.release(e, 'docker leave');
        await this.records.writeEndpoint({ networkId: e.networkId, endpointId: e.endpointId, ...(e.mac && { mac: e.mac }) });
      }
      return {};
    },
    '/NetworkDriver.DeleteEndpoint': async (body) => {
      const { endpointId } = endpointIds(body, 'DeleteEndpoint');
      const e = await this.records.endpoint(endpointId);
      if (e) {
        await this.endpoints.release(e, 'docker endpoint deleted');
        await this.records.removeEndpoint(endpointId);
      }
      return {};
    },
  };

  private async knownNetwork(id: string): Promise<DriverNetwork> {
    const n = await this.records.network(id);
    if (!n) throw new DriverRequestError(`leasehold: network ${id.slice(0, 12)} is not known to this agent (was it created while another agent served this driver?)`);
    return n;
  }

  /** Refused at `docker network create`, not at the first `docker run`. */
  private async checkBridge(n: DriverNetwork): Promise<void> {
    if (n.bridgeNetns && !(await this.network.netnsExists(n.bridgeNetns))) {
      throw new DriverRequestError(`leasehold: option leasehold.bridge-netns: netns ${n.bridgeNetns} does not exist`);
    }
    const where = n.bridgeNetns ? ` in netns ${n.bridgeNetns}` : '';
    const facts = await this.network.bridgeFacts(n.bridgeNetns, n.bridge).catch(() => undefined);
    if (!facts) throw new DriverRequestError(`leasehold: option leasehold.bridge: no bridge ${n.bridge}${where}`);
    if (facts.kind !== 'bridge') throw new DriverRequestError(`leasehold: option leasehold.bridge: ${n.bridge}${where} is not a bridge (it is a ${facts.kind ?? 'plain'} link)`);
  }
}
