/**
 * Autocompletion for the query language (docs/query.md; the server's grammar is
 * functions/annolake_service/domain/query/grammar.py): which fields, label and attribute names, operators,
 * values and keywords may come at the cursor, and what text they replace. Pure: the query bar renders it.
 */

export interface AttributeInfo {
  name: string;
  kind: string;
  options: string[];
}

export interface Vocabulary {
  labels: string[];
  attributes: AttributeInfo[];
  datasets: string[];
}

export type SuggestionKind = "field" | "label" | "attribute" | "keyword" | "operator" | "value";

export interface Suggestion {
  /** what the list shows */
  label: string;
  /** what replaces text[from, to) */
  apply: string;
  kind: SuggestionKind;
  detail?: string;
}

export interface Completion {
  from: number;
  to: number;
  options: Suggestion[];
}

export const ROOTS = ["labels", "frames", "attributes", "file", "dataset"] as const;
export const FILE_FIELDS = ["name", "type", "width", "height", "created", "status", "metadata"] as const;
const FILE_STATUSES = ["ready", "processing", "quarantined"];
const DATASET_FIELDS = ["name", "id"];
const KEYWORDS = new Set(["and", "or", "not", "in", "true", "false"]);
const COMPARISONS = ["=", "!=", "<", "<=", ">", ">="];
const NAME = /^[^\W\d][\w-]*$/u;

/** A name as the grammar reads it: bare when it can be, else double-quoted. */
export function quoteName(name: string): string {
  return NAME.test(name) && !KEYWORDS.has(name.toLowerCase()) ? name : JSON.stringify(name);
}

export function quoteString(value: string): string {
  return JSON.stringify(value);
}

type TokenKind = "field" | "op" | "keyword" | "value" | "lparen" | "rparen" | "lbracket" | "rbracket" | "comma";

interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
}

const LEXEMES: [TokenKind | "space" | "name", RegExp][] = [
  ["space", /\s+/y],
  // strings (the closing quote may not be typed yet)
  ["value", /"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/y],
  ["value", /\d{4}-\d{2}-\d{2}(?:[Tt][\d:.+\-Zz]*)?/y],
  ["value", /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y],
  ["op", /==|!=|<=|>=|=|<|>/y],
  ["lparen", /\(/y],
  ["rparen", /\)/y],
  ["lbracket", /\[/y],
  ["rbracket", /\]/y],
  ["comma", /,/y],
  // a dotted field, segments bare or quoted (a trailing dot while typing included)
  ["name", /[^\W\d][\w-]*(?:\.(?:[^\W\d][\w-]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)?)*/uy],
];

/** The tokens of `text`; stops quietly at anything it cannot read (the server reports real errors). */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  outer: while (position < text.length) {
    for (const [kind, pattern] of LEXEMES) {
      pattern.lastIndex = position;
      const match = pattern.exec(text);
      if (match && match[0].length > 0) {
        const end = position + match[0].length;
        if (kind === "name") {
          const word = match[0];
          const lower = word.toLowerCase();
          const isKeyword = KEYWORDS.has(lower) && !word.includes(".");
          tokens.push({
            kind: isKeyword ? (lower === "true" || lower === "false" ? "value" : "keyword") : "field",
            text: word,
            start: position,
            end,
          });
        } else if (kind !== "space") {
          tokens.push({ kind, text: match[0], start: position, end });
        }
        position = end;
        continue outer;
      }
    }
    break;
  }
  return tokens;
}

/** Segments of a dotted field, quotes removed: `labels."traffic light"` → ["labels", "traffic light"]. */
export function fieldSegments(field: string): string[] {
  const segments: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"?|'((?:[^'\\]|\\.)*)'?|([^."']+)/gy;
  let match: RegExpExecArray | null;
  let position = 0;
  while (position <= field.length) {
    pattern.lastIndex = position;
    match = pattern.exec(field);
    if (!match) {
      segments.push("");
      break;
    }
    segments.push((match[1] ?? match[2] ?? match[3] ?? "").replace(/\\(.)/g, "$1"));
    position = pattern.lastIndex;
    if (field[position] !== ".") {
      break;
    }
    position += 1;
    if (position === field.length) {
      segments.push("");
      break;
    }
  }
  return segments;
}

function startsWith(candidate: string, prefix: string): boolean {
  return candidate.toLowerCase().startsWith(prefix.toLowerCase());
}

function fieldOptions(vocabulary: Vocabulary, segments: string[]): Suggestion[] {
  const [root = "", ...rest] = segments;
  const prefix = rest[rest.length - 1] ?? "";
  if (rest.length === 0) {
    return ROOTS.filter((r) => startsWith(r, root)).map((r) => ({
      label: `${r}.`,
      apply: `${r}.`,
      kind: "field",
      detail: {
        labels: "count of a label",
        frames: "video frames showing a label",
        attributes: "attribute values",
        file: "file field",
        dataset: "dataset",
      }[r],
    }));
  }
  if (rest.length > 1 && !(root === "file" && rest[0] === "metadata")) {
    return [];
  }
  const head = `${root}.`;
  switch (root) {
    case "labels":
    case "frames":
      return vocabulary.labels
        .filter((name) => startsWith(name, prefix))
        .map((name) => ({ label: name, apply: head + quoteName(name), kind: "label", detail: "label" }));
    case "attributes":
      return vocabulary.attributes
        .filter((group) => startsWith(group.name, prefix))
        .map((group) => ({ label: group.name, apply: head + quoteName(group.name), kind: "attribute", detail: group.kind }));
    case "file":
      if (rest.length > 1) {
        return []; // file.metadata.<key>: keys are the user's own
      }
      return FILE_FIELDS.filter((f) => startsWith(f, prefix)).map((f) => ({
        label: f,
        apply: f === "metadata" ? `${head}metadata.` : head + f,
        kind: "field",
        detail: f === "metadata" ? "file.metadata.<key>" : "file field",
      }));
    case "dataset":
      return DATASET_FIELDS.filter((f) => startsWith(f, prefix)).map((f) => ({
        label: f,
        apply: head + f,
        kind: "field",
        detail: "dataset",
      }));
    default:
      return [];
  }
}

function valueOptions(vocabulary: Vocabulary, field: string, prefix: string): Suggestion[] {
  const [root, name] = fieldSegments(field);
  let values: string[] = [];
  if (root === "attributes") {
    values = vocabulary.attributes.find((group) => group.name === name)?.options ?? [];
  } else if (root === "file" && name === "status") {
    values = FILE_STATUSES;
  } else if (root === "file" && name === "type") {
    values = ["image"];
  } else if (root === "dataset" && name === "name") {
    values = vocabulary.datasets;
  }
  const bare = prefix.replace(/^["']/, "");
  return values
    .filter((value) => startsWith(value, bare))
    .map((value) => ({ label: value, apply: quoteString(value), kind: "value" }));
}

const OPERATORS: Suggestion[] = [
  ...COMPARISONS.map((op): Suggestion => ({ label: op, apply: op, kind: "operator" })),
  { label: "in", apply: "in [", kind: "operator", detail: "one of a list" },
  { label: "not in", apply: "not in [", kind: "operator", detail: "none of a list" },
];
const CONNECTIVES: Suggestion[] = [
  { label: "and", apply: "and", kind: "keyword" },
  { label: "or", apply: "or", kind: "keyword" },
];

/** The suggestions at `cursor` in `text`, and the range of text a chosen one replaces. */
export function complete(text: string, cursor: number, vocabulary: Vocabulary): Completion {
  const before = text.slice(0, cursor);
  const tokens = tokenize(before);
  const last = tokens[tokens.length - 1];
  const touching = last !== undefined && last.end === cursor && before.length > 0 && !/\s$/.test(before);
  // the word being typed (if the cursor touches it) and what came before it
  const current = touching && (last.kind === "field" || last.kind === "keyword" || last.kind === "value") ? last : null;
  const previous = current ? tokens[tokens.length - 2] : last;
  const from = current ? current.start : cursor;
  const prefix = current ? current.text : "";
  const inList = (() => {
    let depth = 0;
    for (const token of tokens) {
      if (token.kind === "lbracket") depth += 1;
      if (token.kind === "rbracket") depth -= 1;
    }
    return depth > 0;
  })();
  const fieldBeforeOperator = (): string | null => {
    for (let i = tokens.length - (current ? 2 : 1); i >= 0; i -= 1) {
      const token = tokens[i];
      if (token && token.kind === "field") return token.text;
      if (token && (token.kind === "keyword" && token.text.toLowerCase() !== "in" && token.text.toLowerCase() !== "not")) return null;
      if (token && (token.kind === "lparen" || token.kind === "rparen")) return null;
    }
    return null;
  };
  const filter = (options: Suggestion[]) =>
    prefix ? options.filter((option) => startsWith(option.label, prefix) && option.label !== prefix) : options;

  let options: Suggestion[];
  const expectsOperand =
    previous === undefined ||
    previous.kind === "lparen" ||
    (previous.kind === "keyword" && ["and", "or", "not"].includes(previous.text.toLowerCase()));
  if (inList || (previous && (previous.kind === "op" || previous.kind === "comma"))) {
    const field = fieldBeforeOperator();
    const values = field ? valueOptions(vocabulary, field, prefix) : [];
    // the field may also be on the right-hand side: `3 < labels.car`
    const fields = !inList && current?.kind === "field" ? fieldOptions(vocabulary, fieldSegments(current.text)) : [];
    options = [...values, ...fields];
  } else if (expectsOperand) {
    if (current && current.kind === "field") {
      options = fieldOptions(vocabulary, fieldSegments(current.text));
      if (!current.text.includes(".")) {
        options = [...options, ...filter([{ label: "not", apply: "not", kind: "keyword" }])];
      }
    } else {
      options = [...fieldOptions(vocabulary, [""]), { label: "not", apply: "not", kind: "keyword" }];
      options = filter(options);
    }
  } else if (previous && previous.kind === "field") {
    options = filter(OPERATORS);
  } else if (previous && (previous.kind === "value" || previous.kind === "rparen" || previous.kind === "rbracket")) {
    options = filter(CONNECTIVES);
  } else {
    options = [];
  }
  return { from, to: cursor, options };
}

/** 0-based offset of a 1-based line and column (what the API's 400 for a bad query names). */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let current = 1; current < line; current += 1) {
    const next = text.indexOf("\n", offset);
    if (next === -1) {
      return text.length;
    }
    offset = next + 1;
  }
  return Math.min(text.length, offset + Math.max(0, column - 1));
}
