/**
 * Protobuf messages (schema: shared/proto/ringwatch.proto), loaded at runtime with protobufjs.
 * The interfaces below mirror the schema; decode() turns untrusted bytes into them or throws a
 * MessageError, never anything else.
 */
import protobuf from "protobufjs";
import { fileURLToPath } from "node:url";

export const PROTO_PATH = fileURLToPath(new URL("../../../proto/ringwatch.proto", import.meta.url));

const root = protobuf.loadSync(PROTO_PATH);
const EnvelopeType = root.lookupType("ringwatch.Envelope");
const CommandType = root.lookupType("ringwatch.Command");

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, oneofs: true };

export interface HostIdentity {
  name: string;
  machineId: string;
  addresses: string[];
}
export interface Hello {
  host: HostIdentity;
  version: string;
  startedAtMs: number;
}
export interface Heartbeat {
  sentAtMs: number;
  counter: number;
}
export interface SignedCommand {
  body: Uint8Array;
  signature: Uint8Array;
}
export interface Neighbour {
  name: string;
  address: string;
  port: number;
  /** in SetNeighbours: its keys as the CMA pinned them (null after decoding when absent) */
  keys?: WireHostKeys | null;
}
export interface SetNeighbours {
  neighbours: Neighbour[];
  heartbeatMs: number;
  warntimeMs?: number;
  deadtimeMs?: number;
  /** with CMAs in high availability: every CMA as "host:port" (decoded: empty when none) */
  cmas?: string[];
}
export interface Reannounce {
  maxDelayMs: number;
}
export interface StatsResend {
  stream: number;
  fromSeq: number;
}
export interface Announce {
  host: HostIdentity;
  version: string;
  startedAtMs: number;
  port: number;
  neighbours: Neighbour[];
  /** absent (null after decoding) from a nanoprobe older than host keys */
  proof?: AnnounceProof | null;
  /** proof of a one-time enrollment token (enrollment-proof.ts); decoded: empty when none (and from older nanoprobes) */
  enrollmentProof?: Uint8Array;
}
export interface WireHostKeys {
  identityKey: Uint8Array;
  exchangeKey: Uint8Array;
  exchangeSignature: Uint8Array;
}
export interface AnnounceProof {
  keys: WireHostKeys;
  signedAtMs: number;
  signature: Uint8Array;
  rotatedFrom?: Uint8Array;
  rotationSignature?: Uint8Array;
}
export type ReportKind = "LATE" | "DEAD" | "ALIVE" | "UNEXPECTED";
export interface Report {
  kind: ReportKind;
  subject: string;
  subjectAddress: string;
  silentMs: number;
}
export interface Goodbye {
  reason: string;
}
export interface Probe {
  nonce: number;
}
export interface GuestDomain {
  uuid: string;
  name: string;
  state: string;
  vcpus: number;
  memoryKib: number;
  disks: { target: string; source: string }[];
  nics: { target: string; mac: string; bridge: string; network: string }[];
  /** ringwatch tags from the domain's metadata (decoded: always a list, empty from a nanoprobe older than the field) */
  tags?: string[];
}
export interface Alert {
  kind: string;
  subject: string;
  subjectName: string;
  active: boolean;
  evidenceJson: string;
  atMs: number;
}
export interface StatsReport {
  batch: Uint8Array;
}
export interface Discovery {
  script: string;
  documentJson: string;
  atMs: number;
}
export interface DomainInventory {
  full: boolean;
  domains: GuestDomain[];
  removed: string[];
  atMs: number;
}
export interface Command {
  id: string;
  target: string;
  issuedAtMs: number;
  expiresAtMs: number;
  /** the issuing CMA's leadership epoch (0: a CMA without etcd); older than the newest accepted: refused */
  epoch?: number;
  setNeighbours?: SetNeighbours;
  reannounce?: Reannounce;
  statsResend?: StatsResend;
  domainAction?: DomainActionCommand;
}
/** what a DomainAction may ask libvirt to do */
export const DOMAIN_ACTIONS = ["reboot", "shutdown", "reset", "destroy", "start", "suspend", "resume"] as const;
export type DomainActionName = (typeof DOMAIN_ACTIONS)[number];
export interface DomainActionCommand {
  uuid: string;
  action: string;
}
export interface CommandResult {
  id: string;
  ok: boolean;
  error: string;
  /** a DomainAction's result: the domain's state after it, when known */
  domainState?: string;
  /** a reboot's: how the guest was asked ("agent" or "acpi"), and why the agent, asked first, did not do it */
  rebootMethod?: string;
  agentError?: string;
}

export interface Envelope {
  hello?: Hello;
  heartbeat?: Heartbeat;
  command?: SignedCommand;
  commandResult?: CommandResult;
  announce?: Announce;
  report?: Report;
  goodbye?: Goodbye;
  probe?: Probe;
  probeReply?: Probe;
  inventory?: DomainInventory;
  alert?: Alert;
  discovery?: Discovery;
  stats?: StatsReport;
}
export type EnvelopeKind = keyof Envelope;

export class MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MessageError";
  }
}

function encodeWith(t: protobuf.Type, obj: object): Buffer {
  const msg = t.fromObject(obj); // turns enum names into numbers
  const err = t.verify(msg);
  if (err) throw new MessageError(`${t.name}: ${err}`);
  return Buffer.from(t.encode(msg).finish());
}

function decodeWith<T>(t: protobuf.Type, bytes: Uint8Array): T {
  let m: protobuf.Message;
  try {
    m = t.decode(bytes);
  } catch (e) {
    throw new MessageError(`${t.name}: ${(e as Error).message}`);
  }
  return t.toObject(m, TO_OBJECT) as T;
}

export function encodeEnvelope(e: Envelope): Buffer {
  return encodeWith(EnvelopeType, e);
}

/** Decode an envelope; exactly one body must be set. */
export function decodeEnvelope(bytes: Uint8Array): Envelope & { body: EnvelopeKind } {
  const o = decodeWith<Envelope & { body?: EnvelopeKind }>(EnvelopeType, bytes);
  if (!o.body) throw new MessageError("Envelope: no body");
  return o as Envelope & { body: EnvelopeKind };
}

export function encodeCommand(c: Command): Buffer {
  return encodeWith(CommandType, c);
}

export function decodeCommand(bytes: Uint8Array): Command & { action?: string } {
  return decodeWith<Command & { action?: string }>(CommandType, bytes);
}
