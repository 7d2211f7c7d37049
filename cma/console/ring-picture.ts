// One ring drawn as SVG with DOM calls (no library): hosts on a circle in ring order, a curved
// arrow from each host to every host it watches (curved to one side, so A→B and B→A are both
// seen), the hosts out of the ring in a row below. Each host is a link to its page, coloured by
// state and labelled with it (unless alive), with its state in a tooltip too.
export interface DrawnHost { name: string; state: string; watches: string[] }

const SVG = "http://www.w3.org/2000/svg";
const NODE_R = 8;
const LABEL_SPACE = 120; // left and right of the circle, for the labels
const OUT_STEP = 150; // horizontal room of one host out of the ring

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

const label = (h: { name: string; state: string }): string => (h.state === "alive" ? h.name : `${h.name} (${h.state})`);

/** a host: link, dot, label and tooltip */
function node(h: { name: string; state: string }, ring: string, x: number, y: number, anchor: string, dx: number, dy: number, cls: string): SVGAElement {
  const a = svg("a", { href: `#/host/${encodeURIComponent(h.name)}`, class: `${cls} node-${h.state}`, "data-host": h.name, "data-ring": ring, "data-state": h.state },
    svg("title", {}, `${h.name}: ${h.state}`),
    svg("circle", { cx: x, cy: y, r: NODE_R }),
    svg("text", { x: x + dx, y: y + dy, "text-anchor": anchor, "dominant-baseline": "middle" }, label(h)));
  return a;
}

export function ringPicture(ringId: string, hosts: DrawnHost[], outOfRing: { name: string; state: string }[], idPrefix: string): SVGSVGElement {
  const n = hosts.length;
  const r = n <= 1 ? 0 : Math.min(260, Math.max(60, n * 11));
  const cx = LABEL_SPACE + Math.max(r, 40);
  const cy = 40 + Math.max(r, 20);
  const width = Math.max(2 * cx, Math.min(outOfRing.length, 4) * OUT_STEP + 20);
  const perRow = Math.max(1, Math.floor((width - 20) / OUT_STEP));
  const outRows = Math.ceil(outOfRing.length / perRow);
  const outTop = cy + Math.max(r, 20) + 50;
  const height = outTop + (outRows ? outRows * 32 + 10 : -20);
  const at = new Map(hosts.map((h, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1); // the first host at the top, then clockwise
    return [h.name, { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle), angle }];
  }));

  const arrowId = `${idPrefix}-arrow`;
  const picture = svg("svg", { class: "ring-picture", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${ringId}: ${hosts.map(label).join(", ") || "empty"}`, "data-ring": ringId },
    svg("defs", {}, svg("marker", { id: arrowId, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" }, svg("path", { d: "M0,0 L10,5 L0,10 z", class: "ring-arrowhead" }))));
  if (n > 1) picture.append(svg("circle", { cx, cy, r, class: "ring-circle" }));

  for (const h of hosts) {
    const from = at.get(h.name)!;
    for (const w of h.watches) {
      const to = at.get(w);
      if (!to) continue;
      const dx = to.x - from.x, dy = to.y - from.y;
      const d = Math.hypot(dx, dy) || 1;
      const ux = dx / d, uy = dy / d;
      // bend to the right of the direction of travel: the way back bends the other way
      const bend = Math.min(30, d * 0.15);
      const mx = (from.x + to.x) / 2 - uy * bend, my = (from.y + to.y) / 2 + ux * bend;
      const sx = from.x + ux * (NODE_R + 2), sy = from.y + uy * (NODE_R + 2);
      const ex = to.x - ux * (NODE_R + 3), ey = to.y - uy * (NODE_R + 3);
      picture.append(svg("path", { d: `M${sx.toFixed(1)},${sy.toFixed(1)} Q${mx.toFixed(1)},${my.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`, class: "ring-edge", "marker-end": `url(#${arrowId})`, "data-from": h.name, "data-to": w },
        svg("title", {}, `${h.name} watches ${w}`)));
    }
  }
  for (const h of hosts) {
    const p = at.get(h.name)!;
    const c = Math.cos(p.angle), s = Math.sin(p.angle);
    const anchor = n <= 1 ? "start" : c > 0.3 ? "start" : c < -0.3 ? "end" : "middle";
    const off = NODE_R + 6;
    picture.append(node(h, ringId, p.x, p.y, anchor, n <= 1 ? off : c * off, n <= 1 ? 0 : s * (off + 4), "ring-node"));
  }
  if (n === 0) picture.append(svg("text", { x: cx, y: cy, "text-anchor": "middle", class: "ring-empty" }, "no host of this segment is in the rings"));

  if (outOfRing.length) {
    picture.append(svg("text", { x: 10, y: outTop - 18, class: "ring-out-title" }, "out of the rings:"));
    outOfRing.forEach((h, i) => {
      const x = 20 + (i % perRow) * OUT_STEP, y = outTop + Math.floor(i / perRow) * 32;
      picture.append(node(h, ringId, x, y, "start", NODE_R + 5, 0, "out-node"));
    });
  }
  return picture;
}
