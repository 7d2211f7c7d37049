/**
 * The CMA's command keys re-read from cmaPublicKeyFile on SIGHUP, as the cluster keys are: a rotation
 * of the CMA's key adds the next key to every nanoprobe's file, and later takes the old one out,
 * without restarting a nanoprobe. A file that does not load leaves the keys in use.
 */
import type { KeyObject } from "node:crypto";
import { commandKeyFingerprint, loadCommandPublicKeys } from "@ringwatch/shared";

export interface CmaKeyHolder {
  acceptCmaKeys(keys: readonly KeyObject[]): void;
}

export function reloadCmaKeysOnSighup(holder: CmaKeyHolder, path: string, log: { info(o: object, m: string): void; error(o: object, m: string): void }): () => void {
  const onHup = (): void => {
    try {
      const keys = loadCommandPublicKeys(path);
      holder.acceptCmaKeys(keys);
      log.info({ cmaPublicKeyFile: path, accepted: keys.map((k) => commandKeyFingerprint(k)) }, "CMA command keys reloaded");
    } catch (e) {
      log.error({ cmaPublicKeyFile: path, err: (e as Error).message }, "CMA command key reload failed: keeping the keys in use");
    }
  };
  process.on("SIGHUP", onHup);
  return () => process.off("SIGHUP", onHup);
}
