/**
 * A guest's ringwatch tags (libvirt metadata, read by the nanoprobe: libvirt/src/domain-xml.ts
 * keeps its own copy of these bounds, the binding depending on nothing of ringwatch's): what an
 * inventory may carry, and what a ladder policy may name.
 */
/** A tag: a word of letters, digits and . _ : - (it reads the same in a policy file and in Zabbix). */
export const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** Tags per guest at most. */
export const MAX_TAGS = 32;
