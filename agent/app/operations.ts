import type { Logger } from '../../lib/core/logger.ts';
import type { InspectJson } from '../core/attachment.ts';
import type { ReconcileAction } from '../core/reconcile.ts';
import type { OperationRequest } from '../core/requests.ts';
import type { StateStore } from '../io/state-store.ts';
import { Agent, type AgentEdges, type AgentSettings } from './agent.ts';
import { cniAdd, cniCheck, cniDel, cniList, cniStatus, type CniOperationResult } from './cni-operations.ts';
import { Supervisor } from './supervisor.ts';

export type OperationResult = InspectJson | InspectJson[] | ReconcileAction[] | CniOperationResult;

/**
 * Runs one operation, for the CLI itself or for a CLI that reached
 * `agent watch`: both come here, so both give the same result. A fresh
 * Agent (and, for gc, a fresh Supervisor: one pass with no back-off from
 * earlier ones, as a CLI of its own has) on the same run directory.
 */
export async function runOperation(
  settings: AgentSettings,
  log: Logger,
  operation: OperationRequest,
  edges: Partial<AgentEdges> & { store?: StateStore } = {},
): Promise<OperationResult> {
  const agent = new Agent(settings, log, edges);
  await agent.init();
  switch (operation.op) {
    case 'attach':
      return await agent.attach(operation.request);
    case 'detach':
      return await agent.detach(operation.request);
    case 'inspect':
      return operation.request.all ? await agent.inspectAll() : await agent.inspect(operation.request);
    case 'gc':
      return (await new Supervisor(agent).reconcile()).filter((a) => a.kind !== 'wait');
    case 'cni-add':
      return await cniAdd(agent, operation.request);
    case 'cni-del':
      return await cniDel(agent, operation.request);
    case 'cni-check':
      return await cniCheck(agent, operation.request);
    case 'cni-list':
      return await cniList(agent, operation.request.network);
    case 'cni-status':
      return await cniStatus(agent, operation.request);
  }
}
