/**
 * A loopback TCP port nothing listens on right now (the kernel picks it, we release it): for a
 * server to be started on, or for a client to find refused. Another process could take it in the
 * meantime; tests and benchmarks on a single machine accept that.
 */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";

export function unusedTcpPort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
