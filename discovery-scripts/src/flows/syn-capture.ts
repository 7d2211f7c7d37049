// Captures TCP handshakes (SYN, SYN-ACK) on every interface for a bounded window with tcpdump: the
// filter runs in the kernel (libpcap compiles it to classic BPF on an AF_PACKET socket), so only
// handshake packets ever reach user space. Bounded: at most maxPerSecond packets are read per
// second — past it the reader stops reading, tcpdump blocks on the pipe, its kernel buffer
// (bufferKiB) fills and the kernel drops the rest (counted by tcpdump and reported) — and the
// whole run is bounded by windowMs. Written around tcpdump rather than a native AF_PACKET addon:
// it is Debian's, audited, and handles capture buffers, IPv6 and the cooked link layer already.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { kernelDrops, parseHandshakeLine, type HandshakePacket } from "./tcpdump-line.js";

// IPv4: the TCP flags byte via libpcap's tcp[] accessor; IPv6: only packets whose next header is
// TCP (no extension headers), flags at byte 40 + 13 of the IPv6 packet. SYN set, RST clear.
export const HANDSHAKE_FILTER =
  "(ip and tcp and tcp[tcpflags] & (tcp-syn|tcp-rst) == tcp-syn) or (ip6 and ip6[6] == 6 and ip6[53] & 0x06 == 0x02)";

export interface CaptureOptions {
  tcpdump: string;
  windowMs: number;
  maxPerSecond: number;
  bufferKiB: number;
}

export interface CaptureResult {
  available: boolean;
  /** Why nothing was captured (tcpdump missing, not permitted, failed); null when it ran. */
  error: string | null;
  /** Handshake packets read and parsed. */
  packets: number;
  /** Lines that were not a handshake packet tcpdump should print under the filter. */
  unparsed: number;
  /** Packets tcpdump says the kernel dropped: past the rate cap (left unread) or a full buffer;
   *  null when it could not say (stopped while blocked writing). */
  kernelDropped: number | null;
  /** Packets read after the cap was reached, from what was already buffered: not used. */
  overRate: number;
  /** Seconds in which the rate cap was reached. */
  cappedSeconds: number;
}

export function captureHandshakes(options: CaptureOptions, onPacket: (p: HandshakePacket) => void): Promise<CaptureResult> {
  return new Promise((resolve) => {
    // -s 128: link, IP and TCP headers are all a handshake needs; -l: a line as soon as it is seen.
    const args = ["-i", "any", "-nn", "-e", "-l", "-s", "128", "-B", String(options.bufferKiB), HANDSHAKE_FILTER];
    const child = spawn(options.tcpdump, args, { stdio: ["ignore", "pipe", "pipe"] });
    let packets = 0, unparsed = 0, overRate = 0, cappedSeconds = 0, inSecond = 0, stderr = "", startError: string | null = null;
    let secondStart = Date.now(), paused = false, stopping = false;
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    const resumeAt = (): void => {
      paused = false;
      inSecond = 0;
      secondStart = Date.now();
      lines.resume();
    };
    let resumeTimer: NodeJS.Timeout | undefined;
    lines.on("line", (line) => {
      if (stopping) return;
      const now = Date.now();
      if (now - secondStart >= 1000) { secondStart = now; inSecond = 0; }
      if (paused) { overRate++; return; } // already buffered when the reader paused: not used
      const p = parseHandshakeLine(line);
      if (p) { packets++; onPacket(p); } else unparsed++;
      if (++inSecond >= options.maxPerSecond) {
        paused = true;
        cappedSeconds++;
        lines.pause();
        resumeTimer = setTimeout(resumeAt, Math.max(1, 1000 - (now - secondStart)));
      }
    });
    child.stderr.on("data", (d: Buffer) => { if (stderr.length < 8192) stderr += d.toString("utf8"); });
    child.once("error", (e) => { startError = (e as NodeJS.ErrnoException).code === "ENOENT" ? `${options.tcpdump} not found` : e.message; });
    // SIGINT makes tcpdump print its statistics and exit. The reader resumes first and the pipe is
    // given a moment to drain: a tcpdump blocked writing to a full pipe exits on SIGINT without them.
    let interrupt: NodeJS.Timeout | undefined;
    const window = setTimeout(() => {
      stopping = true;
      clearTimeout(resumeTimer);
      lines.resume();
      interrupt = setTimeout(() => child.kill("SIGINT"), 100);
    }, options.windowMs);
    const hardStop = setTimeout(() => child.kill("SIGKILL"), options.windowMs + 5000);
    child.once("close", (code, signal) => {
      clearTimeout(window);
      clearTimeout(hardStop);
      clearTimeout(resumeTimer);
      clearTimeout(interrupt);
      // Stopped by us, whatever its exit status (interrupted mid-write it exits 14): it ran its window.
      const ranToWindow = stopping;
      const error = startError ?? (ranToWindow ? null : `tcpdump ended early (${signal ?? `exit ${code}`}): ${lastLine(stderr)}`);
      resolve({ available: error === null, error, packets, unparsed, overRate, kernelDropped: kernelDrops(stderr), cappedSeconds });
    });
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 200) || "no message";
}
