/**
 * `strata create`: writes an empty up/down pair into a migrations folder, named the way
 * golang-migrate v4's `migrate create` names them (timestamp or `-seq` versions).
 */
import { mkdir, readdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../db/strata_error.ts";

/** Options of {@linkcode createMigration}; each mirrors a `migrate create` flag. */
export interface CreateMigrationOptions {
  /** Folder to write into; created (with its parents) when missing. */
  dir: string;
  /** File extension, `sql` by default; a leading dot is stripped. */
  ext?: string;
  /** Sequential versions: the highest version in the folder plus one. */
  seq?: boolean;
  /** Zero padding for `seq` versions, 6 by default. */
  digits?: number;
  /** Go time layout, or `unix` / `unixNano`; `20060102150405` by default. */
  format?: string;
  /** IANA zone name or `UTC` (the default); `Local` is the system zone. */
  tz?: string;
  /** The creation time, for tests; `new Date()` by default. */
  now?: Date;
}

/** What {@linkcode createMigration} wrote. */
export interface CreatedMigration {
  /** The version part of both file names, e.g. `000003` or `20240131120000`. */
  version: string;
  /** Path of the new, empty up file. */
  up: string;
  /** Path of the new, empty down file. */
  down: string;
}

const DEFAULT_FORMAT = "20060102150405";
const MIGRATION_FILE = /^([0-9]+)_(.*)\.(down|up)\.(.*)$/;

/**
 * Creates `${dir}/${version}_${name}.up.${ext}` and `.down.${ext}`, both empty, like
 * golang-migrate's `migrate create`. The version is a timestamp formatted with `format` in
 * `tz`, or with `seq` the highest version among the folder's migration files with this
 * extension plus one, zero-padded to `digits`. Files are created exclusively: an existing
 * file is never overwritten, and when the second file cannot be created the first is
 * removed again. A timestamp version already used by a migration with another name in the
 * folder is refused too, as golang-migrate does.
 *
 * @param name The migration's name, e.g. `add_users`; no path separators.
 * @param options The folder and the version scheme.
 * @returns The version and the two paths written.
 * @throws {StrataError} USAGE for an empty or path-like name, an empty extension, a
 *   non-positive `digits`, `seq` with a non-default `format`, an empty format, an unknown
 *   time zone, or a sequence number longer than `digits`.
 * @throws {StrataError} COMMAND_FAILED when a file already exists, the version is taken, or
 *   the folder cannot be read or written.
 * @example
 * ```ts
 * import { mkdtemp, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { createMigration } from "./create_migration.ts";
 * const root = await mkdtemp(join(tmpdir(), "strata-"));
 * const created = await createMigration("add_users", { dir: join(root, "migrations"), seq: true });
 * console.log(created.version); // "000001"
 * await rm(root, { recursive: true, force: true });
 * ```
 */
export async function createMigration(name: string, options: CreateMigrationOptions): Promise<CreatedMigration> {
  if (name === "") throw new StrataError("USAGE", "Migration name may not be empty");
  if (name.includes("/") || name.includes("\\")) {
    throw new StrataError("USAGE", `Invalid migration name: ${name} contains a path separator`);
  }
  const ext = (options.ext ?? "sql").replace(/^\./, "");
  if (ext === "") throw new StrataError("USAGE", "File extension may not be empty");
  const digits = options.digits ?? 6;
  if (!Number.isInteger(digits) || digits <= 0) {
    throw new StrataError("USAGE", `Invalid -digits ${digits}: must be a positive integer`);
  }
  const format = options.format ?? DEFAULT_FORMAT;
  if (options.seq && format !== DEFAULT_FORMAT) {
    throw new StrataError("USAGE", "The -seq and -format options are mutually exclusive");
  }
  if (format === "") throw new StrataError("USAGE", "Time format may not be empty");
  const now = options.now ?? new Date();
  const dir = options.dir === "" ? "." : options.dir;
  const suffix = `.${ext}`;

  const existing = (await listFolder(dir)).filter((file) => MIGRATION_FILE.test(file) && file.endsWith(suffix));
  let version: string;
  if (options.seq) {
    let highest = 0n;
    for (const file of existing) {
      const number = BigInt(MIGRATION_FILE.exec(file)![1]);
      if (number > highest) highest = number;
    }
    const next = String(highest + 1n);
    if (next.length > digits) {
      throw new StrataError("USAGE", `Next sequence number ${next} is longer than -digits ${digits}`);
    }
    version = next.padStart(digits, "0");
  } else if (format === "unix") {
    version = String(Math.floor(checkedTime(now) / 1000));
  } else if (format === "unixNano") {
    version = String(BigInt(checkedTime(now)) * 1_000_000n);
  } else {
    version = formatGoTime(now, format, options.tz ?? "UTC");
  }

  const upName = `${version}_${name}.up${suffix}`;
  const downName = `${version}_${name}.down${suffix}`;
  const taken = existing.find((file) => file.startsWith(`${version}_`) && file !== upName && file !== downName);
  if (taken !== undefined) {
    throw new StrataError(
      "COMMAND_FAILED",
      `Cannot create ${join(dir, upName)}: version ${version} is already used by ${taken}`,
    );
  }

  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new StrataError("COMMAND_FAILED", `Cannot create folder ${dir}: ${reason(error)}`, { cause: error });
  }
  const up = join(dir, upName);
  const down = join(dir, downName);
  await createEmpty(up);
  try {
    await createEmpty(down);
  } catch (error) {
    await unlink(up).catch(() => {});
    throw error;
  }
  return { version, up, down };
}

/**
 * Formats `date` with a Go reference-time layout (`Mon Jan 2 15:04:05 MST 2006`) as Go's
 * `time.Time.Format` does, with the calendar fields taken in `timeZone`. Supported tokens:
 * `2006 06 01 1 Jan January 02 2 _2 002 __2 15 03 3 04 4 05 5 PM pm Mon Monday MST`, the
 * offsets `-0700 -07:00 -07 -070000 -07:00:00` and their `Z` forms (`Z` for UTC), and
 * fractional seconds `.000…` / `.999…` (or with a comma; the 9 forms trim trailing zeros).
 * Anything else is copied literally. `MST` prints the zone's short name from Intl (`UTC`
 * for UTC); where Intl knows only a `GMT+3` style name it prints `+03` like the tz database.
 *
 * @param date The instant to format; JavaScript dates have millisecond precision.
 * @param layout The Go layout.
 * @param timeZone An IANA zone name, `UTC`, or `Local` for the system zone.
 * @returns The formatted text.
 * @throws {StrataError} USAGE for an unknown time zone or an invalid date.
 * @example
 * ```ts
 * import { formatGoTime } from "./create_migration.ts";
 * const date = new Date("2024-03-05T17:04:09.120Z");
 * console.log(formatGoTime(date, "2006-01-02T15:04:05.000Z07:00", "UTC")); // 2024-03-05T17:04:09.120Z
 * console.log(formatGoTime(date, "Jan _2 3:04PM MST", "America/New_York")); // Mar  5 12:04PM EST
 * ```
 */
export function formatGoTime(date: Date, layout: string, timeZone: string): string {
  const time = checkedTime(date);
  const wall = wallClock(time, timeZone);
  let out = "";
  let rest = layout;
  while (rest !== "") {
    const chunk = nextChunk(rest);
    out += chunk.prefix;
    if (chunk.token === "") break;
    out += formatToken(chunk.token, wall);
    rest = chunk.suffix;
  }
  return out;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Nanoseconds within the second. */
  nanos: number;
  weekday: number;
  yearDay: number;
  /** Seconds east of UTC. */
  offset: number;
  zoneName: string;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function checkedTime(date: Date): number {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new StrataError("USAGE", "Invalid date: cannot format it");
  return time;
}

const formatters = new Map<string, { fields: Intl.DateTimeFormat; names: Intl.DateTimeFormat[] }>();

function formattersFor(timeZone: string): { fields: Intl.DateTimeFormat; names: Intl.DateTimeFormat[] } {
  let cached = formatters.get(timeZone);
  if (cached !== undefined) return cached;
  const zone = timeZone === "Local" ? undefined : timeZone === "" ? "UTC" : timeZone;
  try {
    cached = {
      fields: new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        calendar: "gregory",
        numberingSystem: "latn",
        hourCycle: "h23",
        era: "short",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      }),
      // en-US names American zones (EST), en-GB European ones (CET, BST); neither knows all.
      names: ["en-US", "en-GB"].map((locale) =>
        new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: "short" })
      ),
    };
  } catch (error) {
    throw new StrataError("USAGE", `Unknown time zone: ${timeZone}`, { cause: error });
  }
  formatters.set(timeZone, cached);
  return cached;
}

function wallClock(time: number, timeZone: string): WallClock {
  const { fields, names } = formattersFor(timeZone);
  const parts: Record<string, string> = {};
  for (const part of fields.formatToParts(time)) parts[part.type] = part.value;
  let year = Number(parts.year);
  if (parts.era === "BC" || parts.era === "B") year = 1 - year;
  const month = Number(parts.month);
  const day = Number(parts.day);
  const hour = Number(parts.hour) % 24;
  const minute = Number(parts.minute);
  const second = Number(parts.second);
  const millis = ((time % 1000) + 1000) % 1000;
  const wallAsUtc = utc(year, month, day, hour, minute, second);
  const offset = Math.round((wallAsUtc - (time - millis)) / 1000);
  const weekday = new Date(wallAsUtc).getUTCDay();
  const yearDay = Math.round((utc(year, month, day, 0, 0, 0) - utc(year, 1, 1, 0, 0, 0)) / 86_400_000) + 1;
  return {
    year,
    month,
    day,
    hour,
    minute,
    second,
    nanos: millis * 1_000_000,
    weekday,
    yearDay,
    offset,
    zoneName: zoneName(time, timeZone, offset, names),
  };
}

function utc(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const date = new Date(0);
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

function zoneName(time: number, timeZone: string, offset: number, names: Intl.DateTimeFormat[]): string {
  if (timeZone === "UTC" || timeZone === "") return "UTC";
  for (const format of names) {
    const name = format.formatToParts(time).find((part) => part.type === "timeZoneName")?.value ?? "";
    if (name !== "" && !/^(GMT|UTC)[+\-\u2212]/.test(name)) return name;
  }
  // The tz database's convention for zones without a letter abbreviation: +03, +0530.
  const sign = offset < 0 ? "-" : "+";
  const minutes = Math.floor(Math.abs(offset) / 60);
  const hours = pad(Math.floor(minutes / 60), 2);
  return minutes % 60 === 0 ? `${sign}${hours}` : `${sign}${hours}${pad(minutes % 60, 2)}`;
}

interface Chunk {
  prefix: string;
  token: string;
  suffix: string;
}

const FIXED_TOKENS = [
  "January",
  "Monday",
  "-07:00:00",
  "Z07:00:00",
  "-070000",
  "Z070000",
  "-07:00",
  "Z07:00",
  "-0700",
  "Z0700",
  "2006",
  "-07",
  "Z07",
  "002",
  "__2",
  "MST",
  "01",
  "02",
  "03",
  "04",
  "05",
  "06",
  "15",
  "_2",
  "PM",
  "pm",
];

/** Go's nextStdChunk: the text before the first layout token, the token, and the rest. */
function nextChunk(layout: string): Chunk {
  for (let i = 0; i < layout.length; i++) {
    const rest = layout.slice(i);
    const c = layout[i];
    const found = (token: string, length = token.length): Chunk => ({
      prefix: layout.slice(0, i),
      token,
      suffix: layout.slice(i + length),
    });
    if (rest.startsWith("_2006")) return { prefix: layout.slice(0, i + 1), token: "2006", suffix: layout.slice(i + 5) };
    if (rest.startsWith("Jan") || rest.startsWith("Mon")) {
      const long = c === "J" ? "January" : "Monday";
      if (rest.startsWith(long)) return found(long);
      if (!/^[a-z]/.test(rest.slice(3))) return found(rest.slice(0, 3));
    }
    const fixed = FIXED_TOKENS.find((token) => rest.startsWith(token));
    if (fixed !== undefined) return found(fixed);
    if (c === "1" || c === "2" || c === "3" || c === "4" || c === "5") return found(c);
    if ((c === "." || c === ",") && (layout[i + 1] === "0" || layout[i + 1] === "9")) {
      const run = /^[.,](0+|9+)/.exec(rest)![1];
      if (!/^[0-9]/.test(rest.slice(1 + run.length))) return found(rest.slice(0, 1 + run.length));
    }
  }
  return { prefix: layout, token: "", suffix: "" };
}

function formatToken(token: string, wall: WallClock): string {
  switch (token) {
    case "2006":
      return wall.year < 0 ? `-${pad(-wall.year, 4)}` : pad(wall.year, 4);
    case "06":
      return pad(((wall.year % 100) + 100) % 100, 2);
    case "January":
      return MONTHS[wall.month - 1];
    case "Jan":
      return MONTHS[wall.month - 1].slice(0, 3);
    case "01":
      return pad(wall.month, 2);
    case "1":
      return String(wall.month);
    case "Monday":
      return WEEKDAYS[wall.weekday];
    case "Mon":
      return WEEKDAYS[wall.weekday].slice(0, 3);
    case "02":
      return pad(wall.day, 2);
    case "2":
      return String(wall.day);
    case "_2":
      return String(wall.day).padStart(2, " ");
    case "002":
      return pad(wall.yearDay, 3);
    case "__2":
      return String(wall.yearDay).padStart(3, " ");
    case "15":
      return pad(wall.hour, 2);
    case "03":
      return pad(wall.hour % 12 || 12, 2);
    case "3":
      return String(wall.hour % 12 || 12);
    case "04":
      return pad(wall.minute, 2);
    case "4":
      return String(wall.minute);
    case "05":
      return pad(wall.second, 2);
    case "5":
      return String(wall.second);
    case "PM":
      return wall.hour >= 12 ? "PM" : "AM";
    case "pm":
      return wall.hour >= 12 ? "pm" : "am";
    case "MST":
      return wall.zoneName;
  }
  if (token[0] === "-" || token[0] === "Z") return formatOffset(token, wall.offset);
  return formatFraction(token, wall.nanos);
}

function formatOffset(token: string, offset: number): string {
  if (token[0] === "Z" && offset === 0) return "Z";
  const sign = offset < 0 ? "-" : "+";
  const total = Math.abs(offset);
  const hours = pad(Math.floor(total / 3600), 2);
  const minutes = pad(Math.floor(total / 60) % 60, 2);
  const seconds = pad(total % 60, 2);
  const colon = token.includes(":") ? ":" : "";
  const shape = token.slice(1).replaceAll(":", "");
  if (shape === "07") return `${sign}${hours}`;
  if (shape === "0700") return `${sign}${hours}${colon}${minutes}`;
  return `${sign}${hours}${colon}${minutes}${colon}${seconds}`;
}

function formatFraction(token: string, nanos: number): string {
  const digits = pad(nanos, 9).slice(0, token.length - 1);
  if (token[1] === "0") return token[0] + digits;
  const trimmed = digits.replace(/0+$/, "");
  return trimmed === "" ? "" : token[0] + trimmed;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

async function listFolder(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return [];
    throw new StrataError("COMMAND_FAILED", `Cannot read folder ${dir}: ${reason(error)}`, { cause: error });
  }
}

async function createEmpty(path: string): Promise<void> {
  try {
    await writeFile(path, "", { flag: "wx" });
  } catch (error) {
    const why = (error as { code?: string }).code === "EEXIST" ? "the file already exists" : reason(error);
    throw new StrataError("COMMAND_FAILED", `Cannot create ${path}: ${why}`, { cause: error });
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
