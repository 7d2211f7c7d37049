#!/usr/bin/env node
/** ringwatch-nanoprobe: the host agent. Runs in the foreground; SIGTERM/SIGINT stop it cleanly. */
import { favourSize } from "./heap-tuning.js"; // first: before anything else allocates
import { Keyring, UsageError, commandKeyFingerprint, createLogger, keyFingerprint, loadCommandPublicKeys, loadConfig, previousKeyPath, readHostKeys, reloadKeysOnSighup, rotateHostKeys, runCli, untilSignal, writeNewHostKeys } from "@ringwatch/shared";
import type { KeyObject } from "node:crypto";
import type { LogFormat } from "@ringwatch/shared";
import { loadNanoprobeConfig, nanoprobeSchema } from "./config.js";
import { Nanoprobe } from "./agent.js";
import { reloadCmaKeysOnSighup } from "./cma-keys-reload.js";

const code = await runCli({
  program: "ringwatch-nanoprobe",
  description: "ringwatch host agent: ring heartbeats, signed commands from the CMA",
  schema: nanoprobeSchema,
  defaultCommand: "run",
  commands: {
    keygen: {
      summary: "create this host's identity key (identityKeyFile) and print its fingerprint; --show: print the fingerprint of the one there; --rotate: replace it, keeping the old one until the CMA admits the new (restart the nanoprobe)",
      options: { show: { type: "boolean" }, rotate: { type: "boolean" } },
      async run(args) {
        const cfg = loadConfig(nanoprobeSchema, { file: args.configFile });
        try {
          if (args.values.rotate) {
            const { previous, next } = rotateHostKeys(cfg.identityKeyFile);
            process.stdout.write(`${cfg.identityKeyFile}: ${keyFingerprint(next.identityPublic)} (rotated from ${keyFingerprint(previous.identityPublic)}, kept in ${previousKeyPath(cfg.identityKeyFile)} until the CMA admits the new key: restart the nanoprobe)\n`);
            return;
          }
          const keys = args.values.show ? readHostKeys(cfg.identityKeyFile) : writeNewHostKeys(cfg.identityKeyFile);
          process.stdout.write(`${cfg.identityKeyFile}: ${keyFingerprint(keys.identityPublic)}\n`);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      },
    },
    run: {
      summary: "run the nanoprobe in the foreground",
      async run(args) {
        const { config: cfg, log } = loadNanoprobeConfig(args, (c) => createLogger({ name: "nanoprobe", level: args.debug ? "debug" : "info", format: c.logFormat as LogFormat }));
        favourSize(cfg.v8OptimizeForSize);
        const keyring = Keyring.fromFile(cfg.cluster, cfg.clusterKeyFile);
        reloadKeysOnSighup(keyring, cfg.clusterKeyFile, log);
        let cmaPublicKeys: KeyObject[];
        try {
          cmaPublicKeys = loadCommandPublicKeys(cfg.cmaPublicKeyFile);
        } catch (e) {
          throw new UsageError((e as Error).message); // a malformed file stops the start, with the reason (exit 2)
        }
        const np = await Nanoprobe.start(cfg, { keyring, cmaPublicKey: cmaPublicKeys, log });
        reloadCmaKeysOnSighup(np, cfg.cmaPublicKeyFile, log);
        const a = np.endpoint.address();
        log.info({ identity: cfg.identity, address: `${a.address}:${a.port}`, cma: cfg.cma, cmaKeys: cmaPublicKeys.map((k) => commandKeyFingerprint(k)) }, "nanoprobe started");
        const status = cfg.statusIntervalMs > 0 ? setInterval(() => log.info(np.status(), "status"), cfg.statusIntervalMs) : undefined;
        const sig = await untilSignal();
        if (status) clearInterval(status);
        log.info({ signal: sig }, "stopping");
        log.info(np.status(), "final status");
        await np.stop();
      },
    },
  },
});
process.exit(code);
