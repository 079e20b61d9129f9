// Parses HTTP field values as RFC 9651 Structured Fields with the npm
// package structured-headers (installed from package-lock.json by
// `npm ci --prefix pytest/js`), for test_integrity.py.
//
// stdin:  a JSON array of [type, value]: type "dictionary", "list" or
//         "item", value the field value as received (a string).
// stdout: a JSON array, one result per input, in order:
//         {"ok": true, "value": ...} or {"ok": false, "error": "..."}.
// A dictionary is [[key, member], ...] in field order; a member or item is
// {"type", "value", "params": [[key, bare], ...]}; an inner list is
// {"type": "inner-list", "items": [item, ...], "params": ...}.  Byte
// sequences come back as standard base64 ("type": "binary").
import { readFileSync } from "node:fs";
import {
  parseDictionary, parseList, parseItem, Token, DisplayString,
} from "structured-headers";

function bare(v) {
  if (v instanceof ArrayBuffer) {
    return { type: "binary", value: Buffer.from(v).toString("base64") };
  }
  if (v instanceof Token) return { type: "token", value: v.toString() };
  if (v instanceof DisplayString) {
    return { type: "displaystring", value: v.toString() };
  }
  if (v instanceof Date) return { type: "date", value: v.getTime() / 1000 };
  if (typeof v === "number") {
    return { type: Number.isInteger(v) ? "integer" : "decimal", value: v };
  }
  return { type: typeof v, value: v };
}

function params(p) {
  return [...p.entries()].map(([k, v]) => [k, bare(v)]);
}

function member(m) {
  const [v, p] = m;
  if (Array.isArray(v)) {
    return { type: "inner-list", items: v.map(member), params: params(p) };
  }
  return { ...bare(v), params: params(p) };
}

const inputs = JSON.parse(readFileSync(0, "utf8"));
const out = inputs.map(([type, value]) => {
  try {
    if (type === "dictionary") {
      return { ok: true,
               value: [...parseDictionary(value).entries()]
                 .map(([k, m]) => [k, member(m)]) };
    }
    if (type === "list") return { ok: true, value: parseList(value).map(member) };
    if (type === "item") return { ok: true, value: member(parseItem(value)) };
    return { ok: false, error: "unknown type " + type };
  } catch (e) {
    return { ok: false, error: String(e && e.message || e) };
  }
});
process.stdout.write(JSON.stringify(out));
