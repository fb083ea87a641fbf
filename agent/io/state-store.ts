import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAttachment, parseLeaseFile, StateError, type Attachment, type RecordedLease } from '../core/attachment.ts';
import type { PendingRelease } from '../core/pending-release.ts';
import { isAlive } from './process.ts';

/**
 * The agent's state on disk: one record per attachment, so a restarted agent
 * (or a second `agent` command) finds every attachment again.
 *
 *   <runDir>/attachments/<key>.json        the Attachment record
 *   <runDir>/attachments/<key>.lease       written by the udhcpc hook
 *   <runDir>/attachments/<key>.log         the DHCP client's output
 *   <runDir>/locks/<key>.lock              held while one command changes <key>
 *   <runDir>/releases/<key>.json           a DHCPRELEASE still being repeated
 */
export class StateStore {
  readonly attachmentsDir: string;
  private readonly locksDir: string;
  private readonly releasesDir: string;

  constructor(readonly runDir: string) {
    this.attachmentsDir = join(runDir, 'attachments');
    this.locksDir = join(runDir, 'locks');
    this.releasesDir = join(runDir, 'releases');
  }

  async init(): Promise<void> {
    await mkdir(this.attachmentsDir, { recursive: true, mode: 0o755 });
    await mkdir(this.locksDir, { recursive: true, mode: 0o755 });
    await mkdir(this.releasesDir, { recursive: true, mode: 0o755 });
  }

  async writePendingRelease(p: PendingRelease): Promise<void> {
    await writeByRename(join(this.releasesDir, `${p.key}.json`), JSON.stringify(p) + '\n');
  }

  async removePendingRelease(key: string): Promise<void> {
    await rm(join(this.releasesDir, `${key}.json`), { force: true });
  }

  /** Pending releases; unreadable files are dropped (a repeat is an optimisation, not a duty). */
  async listPendingReleases(): Promise<PendingRelease[]> {
    const names = await readdir(this.releasesDir).catch(() => [] as string[]);
    const out: PendingRelease[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        out.push(JSON.parse(await readFile(join(this.releasesDir, name), 'utf8')) as PendingRelease);
      } catch {
        await rm(join(this.releasesDir, name), { force: true });
      }
    }
    return out;
  }

  recordPath(key: string): string {
    return join(this.attachmentsDir, `${key}.json`);
  }
  leasePath(key: string): string {
    return join(this.attachmentsDir, `${key}.lease`);
  }
  logPath(key: string): string {
    return join(this.attachmentsDir, `${key}.log`);
  }

  resolvBackupPath(key: string): string {
    return join(this.attachmentsDir, `${key}.resolv.orig`);
  }

  /** Keeps the target's resolv.conf as it was before the hook first wrote it. */
  async backupResolvConf(key: string, path: string): Promise<void> {
    const original = await readFile(path, 'utf8').catch(() => undefined);
    if (original !== undefined) await writeFile(this.resolvBackupPath(key), original);
  }

  /**
   * Puts it back (in place: Docker bind-mounts that inode into the
   * container), never creating it: on a container's die/destroy Docker may
   * be removing its directory right now, and a file made there again makes
   * that removal fail ("directory not empty"), so `docker rm -f` fails.
   */
  async restoreResolvConf(key: string, path: string): Promise<void> {
    const original = await readFile(this.resolvBackupPath(key), 'utf8').catch(() => undefined);
    if (original === undefined) return;
    let file;
    try {
      file = await open(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // the container and its directory are gone
      throw err;
    }
    try {
      await file.truncate(0);
      await file.writeFile(original);
    } finally {
      await file.close();
    }
  }

  async read(key: string): Promise<Attachment | undefined> {
    const text = await readIfExists(this.recordPath(key));
    return text === undefined ? undefined : parseAttachment(text, this.recordPath(key));
  }

  /** Every record; broken ones are returned as errors so gc can report them. */
  async list(): Promise<{ attachments: Attachment[]; broken: { file: string; error: string }[] }> {
    const attachments: Attachment[] = [];
    const broken: { file: string; error: string }[] = [];
    let names: string[] = [];
    try {
      names = await readdir(this.attachmentsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const file = join(this.attachmentsDir, name);
      try {
        attachments.push(parseAttachment(await readFile(file, 'utf8'), file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        broken.push({ file, error: (err as Error).message });
      }
    }
    return { attachments, broken };
  }

  /** Write-then-rename, so a crash never leaves half a record. */
  async write(a: Attachment): Promise<void> {
    await writeByRename(this.recordPath(a.key), JSON.stringify(a, null, 2) + '\n');
  }

  /**
   * Changes to `key`'s lease file as they happen (inotify on the directory:
   * the hook renames the file into place), so a wait for the lease wakes at
   * once instead of at its next poll. `next()` resolves at the first change
   * after the last call (or one since); if the directory cannot be watched
   * it never resolves, and the caller's poll does the work.
   */
  watchLease(key: string): { next(): Promise<void>; close(): void } {
    const name = `${key}.lease`;
    let changed = false;
    let wake: (() => void) | undefined;
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.attachmentsDir, { persistent: false }, (_event, filename) => {
        if (filename !== name) return;
        changed = true;
        wake?.();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined;
    }
    return {
      next: () =>
        new Promise<void>((resolve) => {
          if (changed) {
            changed = false;
            resolve();
          } else {
            wake = () => {
              changed = false;
              wake = undefined;
              resolve();
            };
          }
        }),
      close: () => watcher?.close(),
    };
  }

  async readLease(key: string): Promise<RecordedLease | undefined> {
    const text = await readIfExists(this.leasePath(key));
    return text === undefined ? undefined : parseLeaseFile(text);
  }

  /** Removes the record and everything the client and hook left for `key`. */
  async remove(key: string): Promise<void> {
    const names = await readdir(this.attachmentsDir).catch(() => [] as string[]);
    await Promise.all(
      names.filter((n) => n === `${key}.json` || n.startsWith(`${key}.`)).map((n) => rm(join(this.attachmentsDir, n), { force: true })),
    );
  }

  /**
   * Exclusive lock on one key across agent processes (a CLI attach racing
   * the watch daemon). A lock left by a dead process is taken over.
   */
  async lock(key: string, timeoutMs = 30_000): Promise<() => Promise<void>> {
    const file = join(this.locksDir, `${key}.lock`);
    const deadline = Date.now() + timeoutMs;
    let emptySince: number | undefined;
    for (;;) {
      try {
        const handle = await open(file, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return async () => {
          await rm(file, { force: true });
        };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // The locks dir removed under a running daemon (a cleaned /run or
        // /tmp): made again, as init() made it.
        if (code === 'ENOENT') {
          await mkdir(this.locksDir, { recursive: true, mode: 0o755 });
          continue;
        }
        if (code !== 'EEXIST') throw err;
      }
      const holder = Number(await readFile(file, 'utf8').catch(() => ''));
      // Empty: a writer is between open and write (or died there); give it
      // a moment before calling the lock stale. Dead holder: stale at once.
      if (!holder) emptySince ??= Date.now();
      if ((holder && !isAlive(holder)) || (!holder && Date.now() - (emptySince ?? 0) > 1000)) {
        await rm(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new StateError(`${key} is locked by process ${holder}`);
      await sleep(20);
    }
  }
}

/** A file's text, or undefined when there is no such file (any other error is thrown). */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write-then-rename, so a crash or a concurrent reader never sees half a file. */
export async function writeByRename(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp.${process.pid}`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
