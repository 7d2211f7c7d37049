// Minimal XML reader for libvirt's own generated XML (well-formed, no DTD tricks): elements,
// attributes and text. Enough to pull devices out of a domain XML without a dependency.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decode(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, ent: string) => {
    if (ent.startsWith("#x")) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith("#")) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    return ENTITIES[ent] ?? m;
  });
}

const ATTR_RE = /([^\s=]+)\s*=\s*("([^"]*)"|'([^']*)')/g;

function parseAttrs(s: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of s.matchAll(ATTR_RE)) attrs[m[1]] = decode(m[3] ?? m[4] ?? "");
  return attrs;
}

/** Parses a document and returns its root element. Throws on unbalanced tags. */
export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: "#document", attrs: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    if (lt < 0) break;
    if (lt > i) stack[stack.length - 1].text += decode(xml.slice(i, lt));
    if (xml.startsWith("<!--", lt)) {
      i = endOf(xml, "-->", lt);
    } else if (xml.startsWith("<![CDATA[", lt)) {
      const end = endOf(xml, "]]>", lt);
      stack[stack.length - 1].text += xml.slice(lt + 9, end - 3);
      i = end;
    } else if (xml.startsWith("<?", lt) || xml.startsWith("<!", lt)) {
      i = endOf(xml, ">", lt);
    } else if (xml.startsWith("</", lt)) {
      const end = endOf(xml, ">", lt);
      const name = xml.slice(lt + 2, end - 1).trim();
      const open = stack.pop();
      if (!open || open.name !== name || stack.length === 0) throw new Error(`XML: unexpected </${name}>`);
      i = end;
    } else {
      const end = endOf(xml, ">", lt);
      let body = xml.slice(lt + 1, end - 1);
      const selfClosing = body.endsWith("/");
      if (selfClosing) body = body.slice(0, -1);
      const nameEnd = body.search(/[\s]/);
      const name = nameEnd < 0 ? body : body.slice(0, nameEnd);
      const el: XmlElement = { name, attrs: nameEnd < 0 ? {} : parseAttrs(body.slice(nameEnd)), children: [], text: "" };
      stack[stack.length - 1].children.push(el);
      if (!selfClosing) stack.push(el);
      i = end;
    }
  }
  if (stack.length !== 1) throw new Error(`XML: <${stack[stack.length - 1].name}> not closed`);
  const top = root.children[0];
  if (!top) throw new Error("XML: no root element");
  return top;
}

function endOf(xml: string, token: string, from: number): number {
  const at = xml.indexOf(token, from);
  if (at < 0) throw new Error("XML: unterminated markup");
  return at + token.length;
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}
