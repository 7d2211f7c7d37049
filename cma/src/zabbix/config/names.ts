/** The Zabbix names the configuration chooses, in one place for the sync, the bridge and the template file. */
import type { CmaConfig } from "../../config.js";
import type { ZabbixNames } from "./definitions.js";

export type ZabbixNamesConfig = Pick<CmaConfig, "zabbixHypervisorTemplate" | "zabbixGuestTemplate" | "zabbixTemplateGroup" | "zabbixCmaTemplate" | "zabbixCmaHost" | "zabbixHostGroup">;

export function zabbixNames(cfg: ZabbixNamesConfig): ZabbixNames {
  return {
    hypervisorTemplate: cfg.zabbixHypervisorTemplate, guestTemplate: cfg.zabbixGuestTemplate, templateGroup: cfg.zabbixTemplateGroup,
    cmaTemplate: cfg.zabbixCmaTemplate, cmaHost: cfg.zabbixCmaHost, hostGroup: cfg.zabbixHostGroup,
  };
}
