// Listening TCP services and the client connections of local processes, read without any
// network traffic ("stealth"): /proc/net/tcp{,6} for the sockets, /proc/<pid>/fd for owners.
// Cost is linear in sockets + file descriptors; client connections are aggregated per
// (process, remote ip, remote port), so 100,000 connections to one database are one entry.
import { AddressDecoder, forEachTcpSocket, TCP_ESTABLISHED, TCP_LISTEN, type ProcTcpSocket } from "../tcp/proc-net-tcp.js";
import { ProcessInfoCache, socketOwners } from "../tcp/socket-owners.js";

export interface TcpListener {
  ip: string;
  port: number;
  /** null when the owning process could not be found (another user's process while not root). */
  pid: number | null;
  process: string | null;
  cmdline: string[];
}

export interface TcpClient {
  process: string | null;
  pid: number | null;
  remoteIp: string;
  remotePort: number;
  /** Established connections from this process to this remote endpoint. */
  count: number;
}

export interface TcpServicesData {
  listeners: TcpListener[];
  clients: TcpClient[];
  summary: {
    /** Established connections accepted by local listeners (not listed one by one). */
    serverConnections: number;
    clientConnections: number;
    /** Listening or established sockets whose owner was not found. */
    unownedSockets: number;
  };
}

export interface TcpServicesOptions {
  procRoot?: string;
  /** Defaults to procRoot/net/tcp and procRoot/net/tcp6. */
  files?: string[];
}

const WILDCARDS = new Set(["0.0.0.0", "::"]);

export async function collectTcpServices(options: TcpServicesOptions = {}): Promise<TcpServicesData> {
  const procRoot = options.procRoot ?? "/proc";
  const files = options.files ?? [`${procRoot}/net/tcp`, `${procRoot}/net/tcp6`];
  const owners = socketOwners(procRoot);
  const info = new ProcessInfoCache(procRoot);
  const decoder = new AddressDecoder();

  const listeners = new Map<string, TcpListener>();
  const listenPorts = new Set<string>();  // "ip|port"; wildcard listeners as "*|port"
  let clients = new Map<string, TcpClient>();
  let serverConnections = 0, clientConnections = 0, unowned = 0;

  const isServerSide = (s: ProcTcpSocket): boolean =>
    listenPorts.has(`*|${s.localPort}`) || listenPorts.has(`${s.localIp}|${s.localPort}`);

  const addClient = (s: ProcTcpSocket): void => {
    if (isServerSide(s)) { serverConnections++; return; }
    clientConnections++;
    const pid = owners.get(s.inode) ?? null;
    const key = `${pid}|${s.remoteIp}|${s.remotePort}`;
    const c = clients.get(key);
    if (c) c.count++;
    else clients.set(key, { process: pid === null ? null : info.get(pid).process, pid, remoteIp: s.remoteIp, remotePort: s.remotePort, count: 1 });
  };

  // The kernel lists a file's listening sockets before its established ones, so one pass
  // classifies every connection. Should that ever not hold, re-read with all listeners known.
  let outOfOrder = false;
  for (const file of files) {
    let sawEstablished = false;
    await forEachTcpSocket(file, (s) => {
      if (s.state === TCP_LISTEN) {
        if (sawEstablished) outOfOrder = true;
        listenPorts.add(`${WILDCARDS.has(s.localIp) ? "*" : s.localIp}|${s.localPort}`);
        const pid = owners.get(s.inode) ?? null;
        if (pid === null) unowned++;
        const key = `${s.localIp}|${s.localPort}|${pid}`;
        if (!listeners.has(key)) {
          const p = pid === null ? null : info.get(pid);
          listeners.set(key, { ip: s.localIp, port: s.localPort, pid, process: p?.process ?? null, cmdline: p?.cmdline ?? [] });
        }
      } else if (s.state === TCP_ESTABLISHED) {
        sawEstablished = true;
        if (!owners.has(s.inode)) unowned++;
        addClient(s);
      }
    }, decoder);
  }
  if (outOfOrder) {
    clients = new Map();
    serverConnections = clientConnections = 0;
    for (const file of files) await forEachTcpSocket(file, (s) => { if (s.state === TCP_ESTABLISHED) addClient(s); }, decoder);
  }

  // Sorted so that unchanged services give an identical document.
  const byText = (a: string | null, b: string | null): number => (a ?? "").localeCompare(b ?? "");
  return {
    listeners: [...listeners.values()].sort((a, b) => a.port - b.port || byText(a.ip, b.ip) || (a.pid ?? 0) - (b.pid ?? 0)),
    clients: [...clients.values()].sort((a, b) =>
      byText(a.process, b.process) || (a.pid ?? 0) - (b.pid ?? 0) || byText(a.remoteIp, b.remoteIp) || a.remotePort - b.remotePort),
    summary: { serverConnections, clientConnections, unownedSockets: unowned },
  };
}
