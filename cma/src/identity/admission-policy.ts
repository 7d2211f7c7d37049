/**
 * Who is admitted, decided from the pin (if any), the verified proof and the policy; no I/O here
 * (host-admission.ts acts on the decision). The rules:
 *
 * - open: a name never seen is pinned to the key it first shows (trust on first use);
 *   approve: it is recorded pending and refused until an admin approves it;
 *   enrolled: only the key hostKeysFile lists for the name is admitted (and pinned), or a key
 *   shown with a valid enrollment token (below).
 * - A pinned name is admitted with its pinned key only. Another key is a mismatch (an impostor,
 *   or a host re-keyed without the admin forgetting its pin) — unless the announcement is a
 *   rotation vouched for by the pinned key, which re-pins (not in enrolled mode: there the file says
 *   which key a name has).
 * - A pending name: its own key is still waiting; another key is a mismatch. A revoked name is refused
 *   whatever key it shows, until an admin forgets its pin.
 * - No proof (a nanoprobe older than host keys): admitted only with allowHostsWithoutKeys, and only
 *   for a name with no pin and not enrolled.
 * - A one-time enrollment token (its proof, checked by host-admission.ts against the enrollments an
 *   admin made), for a name not in hostKeysFile, in every policy: valid, it admits and pins the name
 *   to the key it shows at once (approve: without waiting; a pending key of that name is replaced);
 *   spent, expired, unknown or not this name's token, it is refused with that reason — even where
 *   the policy alone would admit, since a host showing a token expects to be admitted by it. A
 *   name pinned to another key is a mismatch whatever the token (forget the pin first), a revoked
 *   one stays revoked, and a host already pinned with the key it shows is admitted as pinned (its
 *   nanoprobe may go on sending the spent proof). Under enrolled, a name pinned by a token is
 *   admitted with that key from then on though not in the file (no rotation: re-enroll instead).
 */
import type { ProofRefusal, PublicHostKeys } from "@ringwatch/shared";
import type { HostPin } from "./pin-store.js";
import type { EnrolledKeys } from "./enrolled-keys.js";

export type HostKeyPolicy = "open" | "approve" | "enrolled";
export const HOST_KEY_POLICIES: readonly HostKeyPolicy[] = ["open", "approve", "enrolled"];

/** Why an announcement was refused: the proof's own failures, or the policy's. */
export type RefusalReason = ProofRefusal | "mismatch" | "pending" | "revoked" | "notEnrolled" | EnrollmentRefusal;
/** a token shown that does not admit: spent by a host already, expired, no enrollment for this name, or not this name's token */
export type EnrollmentRefusal = "enrollmentUsed" | "enrollmentExpired" | "enrollmentUnknown" | "enrollmentInvalid";
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  "noProof", "badKeys", "badSignature", "stale", "badRotation", "mismatch", "pending", "revoked", "notEnrolled", "enrollmentUsed", "enrollmentExpired", "enrollmentUnknown", "enrollmentInvalid",
];

/** What the announcement's enrollment proof came to: none shown, valid (an outstanding enrollment of this name), or why not. */
export type EnrollmentCheck = "none" | "valid" | EnrollmentRefusal;

/** pinnedBy of a pin made by an enrollment token */
export const BY_ENROLLMENT_TOKEN = "enrollment token";

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

export function decide(name: string, pin: HostPin | undefined, shown: Presented, s: PolicySettings, enrollment: EnrollmentCheck = "none"): Decision {
  const listed = s.policy === "enrolled" ? s.enrolled.get(name) : undefined;
  if (!shown.keys) {
    return s.allowHostsWithoutKeys && !pin && listed === undefined ? { verdict: "admit", pin: "none" } : { verdict: "refuse", reason: "noProof" };
  }
  const same = pin !== undefined && pin.keys.identityPublic.equals(shown.keys.identityPublic);
  if (pin?.state === "revoked") return { verdict: "refuse", reason: "revoked" };
  const pinnedSame = same && pin!.state === "pinned";
  if (enrollment !== "none" && listed === undefined && !pinnedSame) {
    if (pin?.state === "pinned") return { verdict: "refuse", reason: enrollment === "valid" ? "mismatch" : enrollment };
    return enrollment === "valid" ? { verdict: "admit", pin: "new", by: BY_ENROLLMENT_TOKEN } : { verdict: "refuse", reason: enrollment };
  }
  if (s.policy === "enrolled") {
    if (listed === undefined) return pinnedSame && pin!.pinnedBy === BY_ENROLLMENT_TOKEN ? { verdict: "admit", pin: "keep" } : { verdict: "refuse", reason: "notEnrolled" };
    if (listed !== shown.fingerprint) return { verdict: "refuse", reason: "mismatch" };
    return same && pin!.state === "pinned" ? { verdict: "admit", pin: "keep" } : { verdict: "admit", pin: "new", by: "enrolled" };
  }
  if (!pin) return s.policy === "open" ? { verdict: "admit", pin: "new", by: "first use" } : { verdict: "wait" };
  if (pin.state === "pending") return same ? { verdict: "wait" } : { verdict: "refuse", reason: "mismatch" };
  if (same) return { verdict: "admit", pin: "keep" };
  if (shown.rotatedFrom && pin.keys.identityPublic.equals(shown.rotatedFrom)) return { verdict: "admit", pin: "rotate", by: "rotation" };
  return { verdict: "refuse", reason: "mismatch" };
}
