// A small CNI runtime, as libcni drives plugins (CNI spec 1.1.0 §"Execution
// protocol", §"Network configuration lists"): each plugin of a conflist is
// run as an executable with CNI_* in its environment and its own config on
// stdin — the list's `name` and `cniVersion` put into it, the previous
// plugin's result as `prevResult` — ADD in list order, DEL in reverse, the
// last ADD result kept ("cached") for CHECK and DEL. The plugin's stdout is
// parsed as the spec says: a result or an error object.
import { join } from 'node:path';
import { packagedProgram } from './program-table.ts';
import { REPO_ROOT, runCommand } from './run-command.ts';

export interface CniConflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface CniOutcome {
  /** Exit code of the plugin (of the first one that failed). */
  code: number | null;
  /** stdout parsed (a result, or the error object), or undefined when empty. */
  json?: Record<string, unknown>;
  stdout: string;
  stderr: string;
}

/**
 * Where each plugin's executable is found, by its `type`, as CNI_PATH lists
 * it: ours, and Debian's containernetworking-plugins (1.1.1, spec ≤ 1.0.0)
 * for chains. Only plugins that change nothing outside the namespaces a test
 * makes belong here: `tuning` works in the container's netns; `bandwidth`
 * (an ifb device in the runtime's own netns, the host's), `portmap` and
 * `firewall` (iptables) would touch the host.
 */
function pluginArgv(type: string): string[] {
  if (type !== 'leasehold' && type !== 'tuning') throw new Error(`no plugin ${type} in this runtime's CNI_PATH`);
  return type === 'tuning' ? [packagedProgram('tuning')] : [join(REPO_ROOT, 'bin', 'leasehold-cni')];
}

/** Debian's containernetworking-plugins install into this directory. */
const CNI_PLUGIN_DIR = '/usr/lib/cni';

export class CniRuntime {
  readonly #cache = new Map<string, Record<string, unknown>>();

  constructor(readonly conflist: CniConflist) {}

  async add(containerId: string, netns: string, ifname = 'eth0', extraEnv: Record<string, string> = {}): Promise<CniOutcome> {
    let prevResult: Record<string, unknown> | undefined;
    let last: CniOutcome | undefined;
    for (const plugin of this.conflist.plugins) {
      last = await this.exec('ADD', plugin, { CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: ifname, ...extraEnv }, prevResult ? { prevResult } : {});
      if (last.code !== 0) return last;
      prevResult = last.json;
    }
    if (prevResult) this.#cache.set(`${containerId}\0${ifname}`, prevResult);
    return last!;
  }

  async check(containerId: string, netns: string, ifname = 'eth0'): Promise<CniOutcome> {
    const prevResult = this.#cache.get(`${containerId}\0${ifname}`);
    let last: CniOutcome = { code: 0, stdout: '', stderr: '' };
    for (const plugin of this.conflist.plugins) {
      last = await this.exec('CHECK', plugin, { CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: ifname }, prevResult ? { prevResult } : {});
      if (last.code !== 0) return last;
    }
    return last;
  }

  /** DEL in reverse order; `netns` may be absent (the spec allows DEL without CNI_NETNS). */
  async del(containerId: string, netns: string | undefined, ifname = 'eth0'): Promise<CniOutcome> {
    const prevResult = this.#cache.get(`${containerId}\0${ifname}`);
    let last: CniOutcome = { code: 0, stdout: '', stderr: '' };
    for (const plugin of [...this.conflist.plugins].reverse()) {
      last = await this.exec('DEL', plugin, { CNI_CONTAINERID: containerId, ...(netns && { CNI_NETNS: netns }), CNI_IFNAME: ifname }, prevResult ? { prevResult } : {});
      if (last.code !== 0) return last;
    }
    this.#cache.delete(`${containerId}\0${ifname}`);
    return last;
  }

  async gc(valid: { containerID: string; ifname: string }[]): Promise<CniOutcome> {
    return await this.each('GC', { 'cni.dev/valid-attachments': valid });
  }

  async status(): Promise<CniOutcome> {
    return await this.each('STATUS', {});
  }

  /** Runs `plugin` (by its type) with this list's name and version put into its config. */
  async exec(command: string, plugin: Record<string, unknown>, env: Record<string, string>, extra: Record<string, unknown>, input?: string): Promise<CniOutcome> {
    const type = String(plugin.type);
    const config = { ...plugin, name: this.conflist.name, cniVersion: this.conflist.cniVersion, ...extra };
    const result = await runCommand(pluginArgv(type), {
      env: { CNI_COMMAND: command, CNI_PATH: [join(REPO_ROOT, 'bin'), CNI_PLUGIN_DIR].join(':'), ...env },
      input: input ?? JSON.stringify(config),
      timeoutMs: 90_000,
    });
    const text = result.stdout.trim();
    let json: Record<string, unknown> | undefined;
    if (text) {
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new Error(`${type} ${command} printed no JSON: ${result.stdout}\n${result.stderr}`);
      }
    }
    return { code: result.code, json, stdout: result.stdout, stderr: result.stderr };
  }

  private async each(command: string, extra: Record<string, unknown>): Promise<CniOutcome> {
    let last: CniOutcome = { code: 0, stdout: '', stderr: '' };
    for (const plugin of this.conflist.plugins) {
      last = await this.exec(command, plugin, {}, extra);
      if (last.code !== 0) return last;
    }
    return last;
  }
}
