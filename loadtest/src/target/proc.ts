import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * What Linux's /proc tells about a process of this machine: CPU time, resident memory, children,
 * which process listens on a port. The load test reads the SFU's processes from outside so that
 * measuring them costs them nothing and needs no hook in the product.
 */

const sysconf = (name: string, fallback: number): number => {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
};
const CLOCK_TICKS = sysconf('CLK_TCK', 100);
const PAGE_BYTES = sysconf('PAGESIZE', 4096);

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** The fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU time in ms; undefined once the process is gone. */
export function cpuTimeMs(pid: number): number | undefined {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
  if (!fields) return undefined;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

export function parentPid(pid: number): number | undefined {
  const parent = statFields(pid)?.[1];
  return parent === undefined ? undefined : Number(parent);
}

/**
 * CPU time the whole machine spent running tasks (user, nice, system, and time stolen by the
 * hypervisor), from /proc/stat; interrupt time is left out, as on loopback it is our own traffic.
 */
export function machineBusyMs(): number {
  const fields = (read('/proc/stat') ?? '').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = fields;
  return ((user + nice + system + steal) * 1000) / CLOCK_TICKS;
}

/** Resident set size in bytes (statm's second field). */
export function residentBytes(pid: number): number | undefined {
  const statm = read(`/proc/${pid}/statm`);
  return statm ? Number(statm.split(' ')[1]) * PAGE_BYTES : undefined;
}

/** The command name, as the kernel keeps it (15 characters at most). */
export const commandName = (pid: number): string | undefined => read(`/proc/${pid}/comm`)?.trim();

function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  // Any thread may have forked; each thread lists its own children.
  return tasks.flatMap((task) => (read(`/proc/${pid}/task/${task}/children`) ?? '').split(' ').filter(Boolean).map(Number));
}

/** Every process below `pid`, breadth first; bounded so a pid-reuse cycle cannot loop. */
export function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && found.length < 10_000) {
    for (const child of childrenOf(queue.shift()!)) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** The process listening on TCP `port` (any local address), if it is one this user may inspect. */
export function listeningPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (read(table) ?? '').split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      const localPort = Number.parseInt(columns[1]?.split(':')[1] ?? '', 16);
      // State 0A is LISTEN; column 9 is the socket's inode.
      if (localPort === port && columns[3] === '0A' && columns[9]) inodes.add(columns[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && [...socketInodes(pid)].some((inode) => inodes.has(inode))) return pid;
  }
  return undefined;
}

/** Inodes of the sockets a process holds open. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // Closed meanwhile.
    }
  }
  return inodes;
}

/**
 * Datagrams the kernel dropped because these processes' UDP sockets' receive buffers were full
 * (the `drops` column of /proc/net/udp): loss that happened at the receiver, not on the way.
 */
export function udpDrops(pids: readonly number[]): number {
  const inodes = new Set(pids.flatMap((pid) => [...socketInodes(pid)]));
  let drops = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of (read(table) ?? '').split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      // Column 9 is the inode, the last one the drop count.
      if (columns[9] && inodes.has(columns[9])) drops += Number(columns.at(-1)) || 0;
    }
  }
  return drops;
}
