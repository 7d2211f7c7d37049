/** `ringwatch-cma zabbix-template`: the YAML export with the configured names, to stdout or a file. */
import { writeFileSync } from "node:fs";
import type { CmaConfig } from "../../config.js";
import { templateYaml } from "./template-export.js";

/** Writes the export; returns the file written, or undefined when it went to stdout. */
export function writeTemplate(cfg: Pick<CmaConfig, "zabbixHypervisorTemplate" | "zabbixGuestTemplate" | "zabbixTemplateGroup">, file?: string): string | undefined {
  const text = templateYaml({ hypervisorTemplate: cfg.zabbixHypervisorTemplate, guestTemplate: cfg.zabbixGuestTemplate, templateGroup: cfg.zabbixTemplateGroup });
  if (!file || file === "-") {
    process.stdout.write(text);
    return undefined;
  }
  writeFileSync(file, text);
  return file;
}
