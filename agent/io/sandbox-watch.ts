import { readdir, readFile, readlink, stat } from 'node:fs/promises';

/**
 * Finding the container behind a Docker SandboxKey, through /proc only (no
 * Docker API: see agent/plugin/docker-driver.ts). Docker answers Join
 * before the sandbox exists; it appears, with the container's first
 * process in it, a few hundred milliseconds later.
 */

/** The first process whose network namespace is the one bind-mounted at `sandboxKey`, with its cgroup text; undefined when none (yet). */
export async function sandboxOwner(sandboxKey: string): Promise<{ pid: number; cgroup: string } | undefined> {
  let inode: number;
  try {
    inode = (await stat(sandboxKey)).ino;
  } catch {
    return undefined;
  }
  const wanted = `net:[${inode}]`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readlink(`/proc/${entry}/ns/net`)) !== wanted) continue;
      return { pid: Number(entry), cgroup: await readFile(`/proc/${entry}/cgroup`, 'utf8') };
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return undefined;
}

/**
 * Whether a network namespace is still bind-mounted at `sandboxKey`:
 * Docker unmounts and removes it with the sandbox. The file alone says
 * nothing — Docker creates it empty before the mount, and an unmounted one
 * can be left behind — so it must be on nsfs, the device of our own netns.
 */
export async function sandboxMounted(sandboxKey: string): Promise<boolean> {
  try {
    const [file, ns] = await Promise.all([stat(sandboxKey), stat('/proc/self/ns/net')]);
    return file.dev === ns.dev;
  } catch {
    return false;
  }
}

/**
 * Whether process `pid` has left runc's init, i.e. the container's own
 * program runs: by then the OCI hooks, where Docker configures the sandbox,
 * are done. A process that is gone counts as started (nothing to wait for).
 */
export async function processStarted(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim() !== RUNC_INIT_COMM;
  } catch {
    return true;
  }
}

/** The name runc's init process runs under until it execs the container's program. */
const RUNC_INIT_COMM = 'runc:[2:INIT]';
