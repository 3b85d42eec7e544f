/**
 * Array types of PostgreSQL's built-in element types for postgres.js, so a connection need
 * not run postgres.js' `fetch_types` query. That query lists the array type of every type in
 * the database, a row type and its array for each table: against 1,000 migrated tables it
 * returns ~1,300 rows and costs 25–40 ms of every strata start-up. Built-in type oids are fixed
 * in the catalog (pg_type.dat), so the arrays strata and its callers meet are known ahead;
 * they parse and serialize as postgres.js' own array types do (element parsers included).
 * Arrays of user-defined types (enums, domains, composites) arrive as their text literal.
 */
import { Buffer } from "node:buffer";

type Parse = (text: string) => unknown;
type Serialize = (value: unknown) => string;

/** postgres.js' default parsers and serializers, by element oid (others are text both ways). */
const number: [Parse, Serialize] = [(x) => +x, (x) => "" + x];
const json: [Parse, Serialize] = [(x) => JSON.parse(x), (x) => JSON.stringify(x)];
const date: [Parse, Serialize] = [
  (x) => new Date(x),
  (x) => (x instanceof Date ? x : new Date(x as string)).toISOString(),
];
const ELEMENTS: Record<number, [Parse, Serialize]> = {
  16: [(x) => x === "t", (x) => (x === true ? "t" : "f")],
  17: [(x) => Buffer.from(x.slice(2), "hex"), (x) => "\\x" + Buffer.from(x as Uint8Array).toString("hex")],
  21: number,
  23: number,
  26: number,
  700: number,
  701: number,
  114: json,
  3802: json,
  1082: date,
  1114: date,
  1184: date,
};

/** [element oid, array oid] of the built-in scalar types (PostgreSQL 12 to 18 agree on these). */
const BUILTIN_ARRAYS: ReadonlyArray<readonly [number, number]> = [
  [16, 1000], // bool
  [17, 1001], // bytea
  [18, 1002], // char
  [19, 1003], // name
  [20, 1016], // int8
  [21, 1005], // int2
  [22, 1006], // int2vector
  [23, 1007], // int4
  [24, 1008], // regproc
  [25, 1009], // text
  [26, 1028], // oid
  [27, 1010], // tid
  [28, 1011], // xid
  [29, 1012], // cid
  [30, 1013], // oidvector
  [114, 199], // json
  [142, 143], // xml
  [650, 651], // cidr
  [700, 1021], // float4
  [701, 1022], // float8
  [774, 775], // macaddr8
  [790, 791], // money
  [829, 1040], // macaddr
  [869, 1041], // inet
  [1033, 1034], // aclitem
  [1042, 1014], // bpchar
  [1043, 1015], // varchar
  [1082, 1182], // date
  [1083, 1183], // time
  [1114, 1115], // timestamp
  [1184, 1185], // timestamptz
  [1186, 1187], // interval
  [1266, 1270], // timetz
  [1560, 1561], // bit
  [1562, 1563], // varbit
  [1700, 1231], // numeric
  [1790, 2201], // refcursor
  [2202, 2207], // regprocedure
  [2203, 2208], // regoper
  [2204, 2209], // regoperator
  [2205, 2210], // regclass
  [2206, 2211], // regtype
  [2950, 2951], // uuid
  [3220, 3221], // pg_lsn
  [3614, 3643], // tsvector
  [3615, 3645], // tsquery
  [3734, 3735], // regconfig
  [3769, 3770], // regdictionary
  [3802, 3807], // jsonb
  [3904, 3905], // int4range
  [3906, 3907], // numrange
  [3908, 3909], // tsrange
  [3910, 3911], // tstzrange
  [3912, 3913], // daterange
  [3926, 3927], // int8range
  [4089, 4090], // regnamespace
  [4096, 4097], // regrole
  [600, 1017], // point
  [601, 1018], // lseg
  [602, 1019], // path
  [603, 1020], // box (its array delimiter is ";")
  [604, 1027], // polygon
  [628, 629], // line
  [718, 719], // circle
  [2275, 1263], // cstring
  [2970, 2949], // txid_snapshot
  [4072, 4073], // jsonpath
  [4191, 4192], // regcollation
  [4451, 6150], // int4multirange
  [4532, 6151], // nummultirange
  [4533, 6152], // tsmultirange
  [4534, 6153], // tstzmultirange
  [4535, 6155], // datemultirange
  [4536, 6157], // int8multirange
  [5038, 5039], // pg_snapshot
  [5069, 271], // xid8
];

/** One postgres.js custom type. */
export interface ArrayType {
  to: number;
  from: number[];
  serialize: (value: unknown) => unknown;
  parse: (raw: string) => unknown;
}

/**
 * The `types` option for postgres.js: every built-in array type, parsed into nested arrays
 * and serialized from them, with `fetch_types: false`.
 */
export function builtinArrayTypes(): Record<string, ArrayType> {
  const types: Record<string, ArrayType> = {};
  for (const [element, array] of BUILTIN_ARRAYS) {
    const [parse, serialize] = ELEMENTS[element] ?? [undefined, undefined];
    const delimiter = array === 1020 ? ";" : ",";
    types[`array_${array}`] = {
      to: array,
      from: [array],
      serialize: (value) => serializeArray(value, serialize, delimiter),
      parse: (raw) => parseArray(raw, parse, delimiter),
    };
  }
  return types;
}

const NEEDS_ESCAPE = /["\\]/;

function serializeArray(value: unknown, serialize: Serialize | undefined, delimiter: string): unknown {
  if (!Array.isArray(value)) return value;
  if (value.length === 0) return "{}";
  if (Array.isArray(value[0])) {
    return `{${value.map((x) => serializeArray(x, serialize, delimiter)).join(delimiter)}}`;
  }
  // One string built in a loop: seeds send arrays of 10,000 values per column.
  let out = "{";
  for (let i = 0; i < value.length; i++) {
    const x = value[i];
    if (i > 0) out += delimiter;
    if (x === null) {
      out += "null";
      continue;
    }
    if (x === undefined) throw new TypeError("Undefined values are not allowed in an array parameter");
    const text = serialize ? serialize(x) : typeof x === "string" ? x : "" + x;
    out += NEEDS_ESCAPE.test(text) ? `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"` : `"${text}"`;
  }
  return out + "}";
}

/** A PostgreSQL array literal (`{1,2}`, `{{"a b",NULL}}`, `[0:1]={x,y}`) into nested arrays. */
export function parseArray(raw: string, parse: Parse | undefined, delimiter = ","): unknown[] {
  let i = raw.indexOf("{");
  if (i < 0) return [];
  const list = (): unknown[] => {
    const items: unknown[] = [];
    i++; // past "{"
    if (raw[i] === "}") {
      i++;
      return items;
    }
    for (;;) {
      if (raw[i] === "{") items.push(list());
      else if (raw[i] === '"') {
        let text = "";
        i++;
        while (raw[i] !== '"') {
          if (raw[i] === "\\") i++;
          text += raw[i++];
        }
        i++;
        items.push(parse ? parse(text) : text);
      } else {
        const start = i;
        while (raw[i] !== delimiter && raw[i] !== "}") i++;
        const text = raw.slice(start, i);
        items.push(text.toUpperCase() === "NULL" ? null : parse ? parse(text) : text);
      }
      if (raw[i] === "}") {
        i++;
        return items;
      }
      i++; // past the delimiter
    }
  };
  return list();
}
