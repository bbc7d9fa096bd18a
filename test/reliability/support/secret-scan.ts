// Looks for credential values in text a person or a system could read: each value as written, each
// of its lines, and its base64, base64url, URL-encoded and JSON-escaped forms.

export interface Needle {
  /** Which credential and which form, e.g. "okta apiToken (base64)". */
  label: string;
  text: string;
}

/** Lines shorter than this are too common to count as a leak on their own (e.g. "-----END"). */
const MIN_LINE = 16;

export function needlesFor(label: string, value: string): Needle[] {
  const forms: Needle[] = [
    { label, text: value },
    { label: `${label} (base64)`, text: Buffer.from(value).toString('base64') },
    { label: `${label} (base64url)`, text: Buffer.from(value).toString('base64url') },
    { label: `${label} (URL-encoded)`, text: encodeURIComponent(value) },
    { label: `${label} (JSON-escaped)`, text: JSON.stringify(value).slice(1, -1) },
  ];
  const lines = value.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length >= MIN_LINE && !/^-----(BEGIN|END) /.test(l));
  if (lines.length > 1) lines.forEach((line, i) => forms.push({ label: `${label} (line ${i + 1})`, text: line }));
  const seen = new Set<string>();
  return forms.filter((n) => n.text.length >= MIN_LINE && !seen.has(n.text) && seen.add(n.text));
}

export interface Hit {
  needle: string;
  source: string;
  context: string;
}

export function scan(sources: Record<string, string>, needles: Needle[]): Hit[] {
  const hits: Hit[] = [];
  for (const [source, text] of Object.entries(sources)) {
    for (const n of needles) {
      const at = text.indexOf(n.text);
      if (at >= 0) hits.push({ needle: n.label, source, context: text.slice(Math.max(0, at - 80), at + 40).replace(/\s+/g, ' ') });
    }
  }
  return hits;
}
