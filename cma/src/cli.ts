#!/usr/bin/env node
/** ringwatch-cma: the collective monitoring authority. Runs in the foreground; SIGTERM/SIGINT stop it cleanly. */
import { Keyring, UsageError, commandKeyFingerprint, reloadKeysOnSighup, createLogger, loadCommandPrivateKey, loadProcessConfig, runCli, untilSignal } from "@ringwatch/shared";
import type { LogFormat } from "@ringwatch/shared";
import { cmaSchema } from "./config.js";
import { Cma } from "./cma.js";
import { keygen, keygenNext } from "./keygen.js";
import { hostCommand } from "./host-command.js";
import { hostKeysCommand } from "./host-keys-command.js";
import { actionCommand } from "./action-command.js";
import { queryCommand } from "./query-command.js";
import { tokenCommand, userCommand } from "./access-command.js";
import { writeTemplate } from "./zabbix/config/template-file.js";
import { HaRunner } from "./ha/ha-runner.js";
import type { HaDeps } from "./ha/ha-runner.js";
import type { CmaConfig } from "./config.js";

/** With etcdEndpoints: lead or stand by (ha/ha-runner.ts) until SIGTERM/SIGINT. */
async function runHighlyAvailable(cfg: CmaConfig, deps: Omit<HaDeps, "onLeading">): Promise<void> {
  const { log, commandKey } = deps;
  const ha = new HaRunner(cfg, {
    ...deps,
    onLeading: (cma, epoch) => {
      const a = cma.endpoint.address();
      log.info({ address: `${a.address}:${a.port}`, multicast: cma.endpoint.joinedGroup ?? null, http: cma.http?.url ?? null, commandKey: commandKeyFingerprint(commandKey), epoch }, "CMA started");
    },
  });
  // a standby logs its election's status too: the only place it shows (it serves no API)
  const status = cfg.statusIntervalMs > 0 ? setInterval(() => log.info(ha.cma ? ha.cma.status() : { ha: ha.status() }, "status"), cfg.statusIntervalMs) : undefined;
  try {
    const done = ha.run();
    const sig = await Promise.race([untilSignal(), done.then(() => undefined)]);
    log.info({ signal: sig ?? null, ...(ha.cma ? ha.cma.status() : { ha: ha.status() }) }, "stopping");
    ha.stop();
    await done;
  } finally {
    if (status) clearInterval(status);
  }
}

const code = await runCli({
  program: "ringwatch-cma",
  description: "ringwatch collective monitoring authority: admits hosts, keeps them in rings, confirms deaths and repairs the rings",
  schema: cmaSchema,
  defaultCommand: "run",
  commands: {
    run: {
      summary: "run the CMA in the foreground",
      async run(args) {
        const cfg = loadProcessConfig(cmaSchema, args);
        const log = createLogger({ name: "cma", level: args.debug ? "debug" : "info", format: cfg.logFormat as LogFormat });
        const keyring = Keyring.fromFile(cfg.cluster, cfg.clusterKeyFile);
        reloadKeysOnSighup(keyring, cfg.clusterKeyFile, log);
        const commandKey = loadCommandPrivateKey(cfg.commandKeyFile);
        if (cfg.etcdEndpoints) return runHighlyAvailable(cfg, { keyring, commandKey, log });
        const cma = await Cma.start(cfg, { keyring, commandKey, log });
        const a = cma.endpoint.address();
        // the command key's fingerprint: what every nanoprobe's cmaPublicKeyFile must hold (they log theirs)
        log.info({ address: `${a.address}:${a.port}`, multicast: cma.endpoint.joinedGroup ?? null, http: cma.http?.url ?? null, commandKey: commandKeyFingerprint(commandKey) }, "CMA started");
        const status = cfg.statusIntervalMs > 0 ? setInterval(() => log.info(cma.status(), "status"), cfg.statusIntervalMs) : undefined;
        const sig = await untilSignal();
        if (status) clearInterval(status);
        log.info({ signal: sig, ...cma.status() }, "stopping");
        await cma.stop();
      },
    },
    "zabbix-template": {
      summary: "write the Zabbix template export (YAML, Zabbix 6.0+) for libvirt hypervisors monitored by ringwatch",
      usage: "zabbix-template [--out FILE]   stdout by default; template, group and CMA host names from the configuration (zabbixHypervisorTemplate, zabbixGuestTemplate, zabbixCmaTemplate, zabbixTemplateGroup, zabbixCmaHost, zabbixHostGroup)",
      options: { out: { type: "string", short: "o" } },
      async run(args) {
        const cfg = loadProcessConfig(cmaSchema, args);
        const out = args.values.out;
        if (out !== undefined && (typeof out !== "string" || !out)) throw new UsageError("--out needs a file name");
        const written = writeTemplate(cfg, out);
        if (written) process.stderr.write(`wrote ${written}\n`);
      },
    },
    keygen: {
      summary: "create the cluster key and the CMA command key pair in a directory (never overwrites); --next: the next command key pair, for a rotation (README: Rotating the CMA's command key)",
      usage: "keygen --dir DIR          writes DIR/cluster.key, DIR/cma-command.key (private), DIR/cma-command.pub\n       keygen --dir DIR --next   writes DIR/cma-command.next.key (private), DIR/cma-command.next.pub and prints its fingerprint",
      options: { dir: { type: "string" }, next: { type: "boolean" } },
      async run(args) {
        const dir = args.values.dir;
        if (typeof dir !== "string" || !dir) throw new UsageError("keygen needs --dir DIR");
        if (args.values.next) {
          let next: ReturnType<typeof keygenNext>;
          try {
            next = keygenNext(dir);
          } catch (e) {
            throw new UsageError((e as Error).message);
          }
          process.stdout.write(`created:\n  ${next.privateKeyPath}\n  ${next.publicKeyPath}\nnext command key: ${next.fingerprint}\n`);
          return;
        }
        const made = keygen(dir);
        process.stdout.write(made.length ? `created:\n${made.map((m) => `  ${m}`).join("\n")}\n` : `keys already present in ${dir}\n`);
      },
    },
    query: queryCommand,
    host: hostCommand,
    "host-keys": hostKeysCommand,
    action: actionCommand,
    user: userCommand,
    token: tokenCommand,
  },
});
process.exit(code);
