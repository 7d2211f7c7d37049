/** A discovery plugin: turns one host's latest document of one discovertype into graph writes. */
import type { AddressScopes } from "./address-scope.js";
import type { BadEntry } from "./input.js";
import type { Phased } from "./phased.js";

export interface IngestContext {
  /** which addresses are private to which host (address-scope.ts) */
  readonly scopes: AddressScopes;
  /** `host`'s host-local networks changed: what its other documents keyed must be keyed again (GraphIngestor re-ingests them) */
  networksChanged(host: string): void;
}

export interface DiscoveryIngest {
  readonly discovertype: string;
  /**
   * The writes that make the graph match this document (the full current state of this type on
   * `host`). Throws IngestError when the document's shape is wrong; reports single bad entries
   * through `bad` and leaves them out.
   */
  build(host: string, data: Record<string, unknown>, at: number, bad: BadEntry, ctx: IngestContext): Phased;
}
