import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DriverRecords } from '../plugin/docker-driver.ts';
import type { DriverEndpoint, DriverNetwork } from '../plugin/driver-protocol.ts';
import { readIfExists, writeByRename } from './state-store.ts';

/**
 * The Docker driver's records under the agent's run directory: one JSON
 * file per network (`docker-driver/networks/<NetworkID>.json`) and per
 * endpoint (`docker-driver/endpoints/<EndpointID>.json`). Docker sends
 * CreateNetwork once, when the network is made: a driver restarted later
 * knows its networks only from here.
 */
export class DriverStore implements DriverRecords {
  private readonly networks: string;
  private readonly endpoints: string;

  constructor(runDir: string) {
    this.networks = join(runDir, 'docker-driver', 'networks');
    this.endpoints = join(runDir, 'docker-driver', 'endpoints');
  }

  async init(): Promise<void> {
    await mkdir(this.networks, { recursive: true, mode: 0o700 });
    await mkdir(this.endpoints, { recursive: true, mode: 0o700 });
  }

  async network(id: string): Promise<DriverNetwork | undefined> {
    return await readJson<DriverNetwork>(join(this.networks, `${safe(id)}.json`));
  }

  async writeNetwork(n: DriverNetwork): Promise<void> {
    await writeByRename(join(this.networks, `${safe(n.networkId)}.json`), JSON.stringify(n, null, 2) + '\n');
  }

  async removeNetwork(id: string): Promise<void> {
    await rm(join(this.networks, `${safe(id)}.json`), { force: true });
  }

  async endpoint(id: string): Promise<DriverEndpoint | undefined> {
    return await readJson<DriverEndpoint>(join(this.endpoints, `${safe(id)}.json`));
  }

  async writeEndpoint(e: DriverEndpoint): Promise<void> {
    await writeByRename(join(this.endpoints, `${safe(e.endpointId)}.json`), JSON.stringify(e, null, 2) + '\n');
  }

  async removeEndpoint(id: string): Promise<void> {
    await rm(join(this.endpoints, `${safe(id)}.json`), { force: true });
  }

  async allEndpoints(): Promise<DriverEndpoint[]> {
    const names = (await readdir(this.endpoints).catch(() => [])).filter((n) => n.endsWith('.json'));
    const out: DriverEndpoint[] = [];
    for (const name of names) {
      const e = await readJson<DriverEndpoint>(join(this.endpoints, name)).catch(() => undefined);
      if (e) out.push(e);
    }
    return out;
  }
}

/** Ids are hex (checked by the protocol); this keeps a path component a path component all the same. */
function safe(id: string): string {
  if (!/^[0-9a-f]+$/.test(id)) throw new Error(`internal: id ${JSON.stringify(id)} is not hex`);
  return id;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  const text = await readIfExists(file);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}
