// The metadata event (type id 0): the chunk's type system. It holds a string table and a tree of
// elements (root → metadata → class → field, plus annotations, settings and regions we ignore);
// element names and attribute keys and values are indexes into the string table. Only classes and
// their fields matter here: they say how to read every event and constant pool entry.

import { type JfrReader, malformed } from "./reader";

export interface JfrField {
  name: string;
  /** The class id of the field's type. */
  type: number;
  /** The value is a constant pool key, not the value itself. */
  constantPool: boolean;
  /** The value is a count followed by that many values. */
  array: boolean;
}

export interface JfrClass {
  id: number;
  name: string;
  fields: JfrField[];
}

export interface Metadata {
  classes: Map<number, JfrClass>;
  byName: Map<string, JfrClass>;
}

const METADATA_EVENT = 0;
/** Deeper trees than any writer produces (root, metadata, class, field, annotation) are refused. */
const MAX_DEPTH = 16;

interface Element {
  name: string;
  attributes: Map<string, string>;
  children: Element[];
}

/** Reads the metadata event at the reader's position; the reader's end must be the chunk's end. */
export function readMetadata(r: JfrReader): Metadata {
  const at = r.pos;
  const size = r.size();
  if (size <= 0 || size > r.end - at) throw malformed(`metadata event at byte ${at} declares ${size} bytes; the chunk has ${r.end - at} left`);
  r.end = at + size;
  if (r.number() !== METADATA_EVENT) throw malformed(`the chunk's metadata offset (byte ${at}) does not point at a metadata event`);
  r.long(); // start time
  r.long(); // duration
  r.long(); // metadata id

  const strings: string[] = [];
  const n = r.count("metadata string");
  const noPool = () => {
    throw malformed(`metadata event at byte ${at} refers to a constant pool string`);
  };
  for (let i = 0; i < n; i++) strings.push(r.string(noPool));
  const string = () => {
    const i = r.size();
    if (i < 0 || i >= strings.length) throw malformed(`metadata string index ${i} out of range (${strings.length} strings)`);
    return strings[i];
  };

  // The element tree, read with an explicit stack: each element is its name, attributes and
  // child count, its children follow it. Classes nested in classes (none are written) are ignored.
  const element = (): [Element, number] => {
    const name = string();
    const attributes = new Map<string, string>();
    const attrs = r.count("metadata attribute", 2);
    for (let i = 0; i < attrs; i++) attributes.set(string(), string());
    return [{ name, attributes, children: [] }, r.count("metadata element", 3)];
  };
  const classElements: Element[] = [];
  const [root, rootChildren] = element();
  const open: { e: Element; left: number; inClass: boolean }[] = [{ e: root, left: rootChildren, inClass: root.name === "class" }];
  if (root.name === "class") classElements.push(root);
  while (open.length > 0) {
    const parent = open[open.length - 1];
    if (parent.left === 0) {
      open.pop();
      continue;
    }
    parent.left--;
    if (open.length > MAX_DEPTH) throw malformed(`metadata elements nested deeper than ${MAX_DEPTH}`);
    const [e, children] = element();
    parent.e.children.push(e);
    const isClass = !parent.inClass && e.name === "class";
    if (isClass) classElements.push(e);
    if (children > 0) open.push({ e, left: children, inClass: parent.inClass || isClass });
  }

  const classes = new Map<number, JfrClass>();
  const byName = new Map<string, JfrClass>();
  for (const e of classElements) {
    const c = toClass(e);
    classes.set(c.id, c);
    byName.set(c.name, c);
  }
  for (const c of classes.values()) {
    for (const f of c.fields) {
      if (!classes.has(f.type)) throw malformed(`field ${c.name}.${f.name} has type id ${f.type}, which the metadata does not define`);
    }
  }
  return { classes, byName };
}

function toClass(e: Element): JfrClass {
  const name = e.attributes.get("name") ?? "";
  const id = classId(e.attributes.get("id"), `class ${name}`);
  const fields: JfrField[] = [];
  for (const child of e.children) {
    if (child.name !== "field") continue;
    const a = child.attributes;
    const fieldName = a.get("name") ?? "";
    fields.push({
      name: fieldName,
      type: classId(a.get("class"), `field ${name}.${fieldName}`),
      constantPool: a.get("constantPool") === "true",
      array: dimension(a.get("dimension"), `field ${name}.${fieldName}`),
    });
  }
  return { id, name, fields };
}

/** JFR values are scalars or one-dimensional arrays. */
function dimension(text: string | undefined, what: string): boolean {
  if (text === undefined || text === "0") return false;
  if (text === "1") return true;
  throw malformed(`${what} has unsupported dimension ${JSON.stringify(text)}`);
}

function classId(text: string | undefined, what: string): number {
  const id = Number(text);
  if (text === undefined || text === "" || !Number.isSafeInteger(id) || id < 0) throw malformed(`${what} has no valid type id (${JSON.stringify(text)})`);
  return id;
}
