/**
 * Frames seen on the loopback wire: tcpdump writes a pcap of one UDP port, and the test reads it
 * back (while tcpdump still runs: -U writes each packet at once) as datagrams with their source and
 * destination, each frame's version byte, sender and send time taken from its clear header
 * (shared/src/wire/frame.ts), so a test can tell cluster-key frames (version 1) from sealed ones
 * (version 2) per pair of processes.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface WireFrame {
  src: string;
  dst: string;
  /** 1: cluster key (HMAC) only; 2: sealed under the pair's key */
  version: number;
  type: number;
  sender: string;
  /** the sender's clock when it sent the frame (header timestamp, ms) */
  sentAtMs: number;
  payload: Buffer;
}

const ipv4 = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** UDP datagrams of a pcap captured on Linux loopback (Ethernet framing, IPv4); a record cut short at the end (still being written) is left out. */
export function readFrames(pcapFile: string): WireFrame[] {
  const pcap = readFileSync(pcapFile);
  const out: WireFrame[] = [];
  if (pcap.length < 24) return out;
  const le = pcap.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number): number => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
  for (let off = 24; off + 16 <= pcap.length; ) {
    const incl = u32(off + 8);
    if (off + 16 + incl > pcap.length) break;
    const pkt = pcap.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (pkt.length < 14 + 20 + 8 || pkt.readUInt16BE(12) !== 0x0800 || pkt[14 + 9] !== 17) continue;
    const ihl = (pkt[14] & 0x0f) * 4;
    const udp = pkt.subarray(14 + ihl + 8);
    if (udp.length < 53 || udp[0] !== 0x52 || udp[1] !== 0x57) continue; // not a ringwatch frame
    const idLen = udp[51];
    out.push({
      src: ipv4(pkt, 14 + 12), dst: ipv4(pkt, 14 + 16), version: udp[2], type: udp[3],
      sentAtMs: udp.readUIntBE(33, 6), sender: udp.subarray(52, 52 + idLen).toString("utf8"), payload: udp,
    });
  }
  return out;
}

export interface Capture {
  file: string;
  frames(): WireFrame[];
  stop(): Promise<void>;
}

/** Capture UDP on one port of the loopback interface into `file` until stop(). */
export async function captureUdp(port: number, file: string): Promise<Capture> {
  const dump = spawn("tcpdump", ["-i", "lo", "-U", "-w", file, "-s", "0", "udp", "port", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  dump.stderr.on("data", (d) => (err += d));
  const exited = new Promise<void>((r) => dump.once("exit", () => r()));
  // tcpdump says "listening on lo" once it captures
  const deadline = Date.now() + 10_000;
  while (!err.includes("listening on")) {
    if (dump.exitCode !== null || Date.now() > deadline) {
      dump.kill("SIGKILL");
      throw new Error(`tcpdump did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  process.once("exit", () => dump.kill("SIGKILL"));
  return {
    file,
    frames: () => readFrames(file),
    stop: async () => {
      if (dump.exitCode === null) {
        dump.kill("SIGINT");
        await exited;
      }
    },
  };
}
