/** Identity keys of in-process test nanoprobes: one per host name for the whole run (a restarted host keeps its key). */
import { generateHostKeys } from "@ringwatch/shared";
import type { HostKeys } from "@ringwatch/shared";

const byName = new Map<string, HostKeys>();

export function testHostKeys(name: string): HostKeys {
  let k = byName.get(name);
  if (!k) byName.set(name, (k = generateHostKeys()));
  return k;
}
