// The one IPv6 text form the discovery scripts print, whether the address came from a lease file,
// the neighbour table or /proc/net/tcp6: the same address must read the same in every document.

/**
 * RFC 5952 text of 16 address bytes in network order: lower case, no leading zeros, and the
 * longest run of two or more zero words (the first one on a tie) written as "::".
 * IPv4-mapped addresses keep the hex form (::ffff:c000:201); callers that want a.b.c.d say so.
 */
export function ipv6Text(bytes: ArrayLike<number>): string {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(":");
  return best < 0 ? hex(words) : `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}
