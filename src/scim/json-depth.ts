// SCIM resources nest a few levels (an extension's manager object, a PATCH value); a body nested
// thousands of levels deep is an attack on whatever walks it recursively, so it is refused up front.

/** Deepest SCIM body accepted: far above any real resource or PATCH operation. */
export const MAX_JSON_DEPTH = 32;

/** How deeply the JSON text nests objects and arrays, counted without recursion (strings skipped). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}
