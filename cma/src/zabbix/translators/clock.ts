/** ms since the epoch (may be fractional) → Zabbix clock + ns. */
export function clockOf(ms: number): { clock: number; ns: number } {
  const clock = Math.floor(ms / 1000);
  const ns = Math.min(999_999_999, Math.max(0, Math.round((ms - clock * 1000) * 1e6)));
  return { clock, ns };
}
