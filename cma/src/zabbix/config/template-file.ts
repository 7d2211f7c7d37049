/** `ringwatch-cma zabbix-template`: the YAML export with the configured names, to stdout or a file. */
import { writeFileSync } from "node:fs";
import { templateYaml } from "./template-export.js";
import { zabbixNames } from "./names.js";
import type { ZabbixNamesConfig } from "./names.js";

/** Writes the export; returns the file written, or undefined when it went to stdout. */
export function writeTemplate(cfg: ZabbixNamesConfig, file?: string): string | undefined {
  const text = templateYaml(zabbixNames(cfg));
  if (!file || file === "-") {
    process.stdout.write(text);
    return undefined;
  }
  writeFileSync(file, text);
  return file;
}
