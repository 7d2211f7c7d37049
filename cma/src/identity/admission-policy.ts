/**
 * Who is admitted, decided from the pin (if any), the verified proof and the policy; no I/O here
 * (host-admission.ts acts on the decision). The rules:
 *
 * - open: a name never seen is pinned to the key it first shows (trust on first use);
 *   approve: it is recorded pending and refused until an admin approves it;
 *   enrolled: only the key hostKeysFile lists for the name is admitted (and pinned).
 * - A pinned name is admitted with its pinned key only. Another key is a mismatch (an impostor,
 *   or a host re-keyed without the admin forgetting its pin) — unless the announcement is a
 *   rotation vouched for by the pinned key, which re-pins (not in enrolled mode: there the file says
 *   which key a name has).
 * - A pending name: its own key is still waiting; another key is a mismatch. A revoked name is refused
 *   whatever key it shows, until an admin forgets its pin.
 * - No proof (a nanoprobe older than host keys): admitted only with allowHostsWithoutKeys, and only
 *   for a name with no pin and not enrolled.
 */
import type { ProofRefusal, PublicHostKeys } from "@ringwatch/shared";
import type { HostPin } from "./pin-store.js";
import type { EnrolledKeys } from "./enrolled-keys.js";

export type HostKeyPolicy = "open" | "approve" | "enrolled";
export const HOST_KEY_POLICIES: readonly HostKeyPolicy[] = ["open", "approve", "enrolled"];

/** Why an announcement was refused: the proof's own failures, or the policy's. */
export type RefusalReason = ProofRefusal | "mismatch" | "pending" | "revoked" | "notEnrolled";
export const REFUSAL_REASONS: readonly RefusalReason[] = ["noProof", "badKeys", "badSignature", "stale", "badRotation", "mismatch", "pending", "revoked", "notEnrolled"];

export interface PolicySettings {
  policy: HostKeyPolicy;
  /** name → fingerprint (enrolled policy) */
  enrolled: EnrolledKeys;
  allowHostsWithoutKeys: boolean;
}

/** What the announcement shows, once its proof checked out (or that it carries none). */
export type Presented = { keys: PublicHostKeys; fingerprint: string; rotatedFrom?: Buffer } | { keys: undefined };

export type Decision =
  | { verdict: "admit"; pin: "keep" }
  | { verdict: "admit"; pin: "none" }
  | { verdict: "admit"; pin: "new" | "rotate"; by: string }
  | { verdict: "wait" }
  | { verdict: "refuse"; reason: RefusalReason };

export function decide(name: string, pin: HostPin | undefined, shown: Presented, s: PolicySettings): Decision {
  const listed = s.policy === "enrolled" ? s.enrolled.get(name) : undefined;
  if (!shown.keys) {
    return s.allowHostsWithoutKeys && !pin && listed === undefined ? { verdict: "admit", pin: "none" } : { verdict: "refuse", reason: "noProof" };
  }
  const same = pin !== undefined && pin.keys.identityPublic.equals(shown.keys.identityPublic);
  if (pin?.state === "revoked") return { verdict: "refuse", reason: "revoked" };
  if (s.policy === "enrolled") {
    if (listed === undefined) return { verdict: "refuse", reason: "notEnrolled" };
    if (listed !== shown.fingerprint) return { verdict: "refuse", reason: "mismatch" };
    return same && pin!.state === "pinned" ? { verdict: "admit", pin: "keep" } : { verdict: "admit", pin: "new", by: "enrolled" };
  }
  if (!pin) return s.policy === "open" ? { verdict: "admit", pin: "new", by: "first use" } : { verdict: "wait" };
  if (pin.state === "pending") return same ? { verdict: "wait" } : { verdict: "refuse", reason: "mismatch" };
  if (same) return { verdict: "admit", pin: "keep" };
  if (shown.rotatedFrom && pin.keys.identityPublic.equals(shown.rotatedFrom)) return { verdict: "admit", pin: "rotate", by: "rotation" };
  return { verdict: "refuse", reason: "mismatch" };
}
