#!/usr/bin/env node
/** ringwatch-cma: the collective monitoring authority. Runs in the foreground; SIGTERM/SIGINT stop it cleanly. */
import { Endpoint, Keyring, UsageError, reloadKeysOnSighup, createLogger, loadCommandPrivateKey, loadProcessConfig, runCli, untilSignal } from "@ringwatch/shared";
import { cmaSchema } from "./config.js";
import { Admission } from "./admission.js";
import { keygen } from "./keygen.js";

const code = await runCli({
  program: "ringwatch-cma",
  description: "ringwatch collective monitoring authority: admits hosts and assigns their ring neighbours",
  schema: cmaSchema,
  defaultCommand: "run",
  commands: {
    run: {
      summary: "run the CMA in the foreground",
      async run(args) {
        const cfg = loadProcessConfig(cmaSchema, args);
        const log = createLogger({ name: "cma", level: args.debug ? "debug" : "info" });
        const keyring = Keyring.fromFile(cfg.cluster, cfg.clusterKeyFile);
        reloadKeysOnSighup(keyring, cfg.clusterKeyFile, log);
        const endpoint = await Endpoint.open({ identity: cfg.identity, keyring, bindAddress: cfg.bindAddress, port: cfg.port, log });
        const admission = new Admission(endpoint, loadCommandPrivateKey(cfg.commandKeyFile), cfg.heartbeatMs, log);
        const a = endpoint.address();
        log.info({ address: `${a.address}:${a.port}` }, "CMA started");
        const status = cfg.statusIntervalMs > 0
          ? setInterval(() => log.info({ hosts: [...admission.hosts.keys()], counters: admission.counters, channel: endpoint.counters }, "status"), cfg.statusIntervalMs)
          : undefined;
        const sig = await untilSignal();
        if (status) clearInterval(status);
        log.info({ signal: sig }, "stopping");
        await endpoint.close();
      },
    },
    keygen: {
      summary: "create the cluster key and the CMA command key pair in a directory (never overwrites)",
      usage: "keygen --dir DIR   writes DIR/cluster.key, DIR/cma-command.key (private), DIR/cma-command.pub",
      options: { dir: { type: "string" } },
      async run(args) {
        const dir = args.values.dir;
        if (typeof dir !== "string" || !dir) throw new UsageError("keygen needs --dir DIR");
        const made = keygen(dir);
        process.stdout.write(made.length ? `created:\n${made.map((m) => `  ${m}`).join("\n")}\n` : `keys already present in ${dir}\n`);
      },
    },
  },
});
process.exit(code);
