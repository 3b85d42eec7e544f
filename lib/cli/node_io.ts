/**
 * The CLI's runtime adapter for Node and Deno (through its node: compatibility): streams,
 * environment with `.env`, stdin prompts, and SIGINT that lets the running migration finish.
 */
import { existsSync, fstatSync, readSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import process from "node:process";
import { type CliIo, VERSION } from "./run_cli.ts";

/**
 * Builds the CLI's IO from `process`. Loads `.env` from the working directory when there
 * is one (variables already set win). The first SIGINT or SIGTERM aborts `signal` (the
 * running migration finishes, nothing new starts); a second one exits at once (130 / 143),
 * saying what that leaves.
 *
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { nodeIo } from "./node_io.ts";
 * import { runCli } from "./run_cli.ts";
 * process.exitCode = await runCli(process.argv.slice(2), nodeIo());
 * ```
 */
export function nodeIo(): CliIo & { dispose(): void } {
  let setupError: unknown;
  try {
    loadDotEnv();
  } catch (error) {
    // Reported as the command's error (a -json document with -json), not as a stack trace.
    setupError = error;
  }
  const controller = new AbortController();
  // SIGTERM (docker stop, a Kubernetes rollout) is handled as Ctrl-C: what runs finishes
  // within the grace period more often than not, and a second signal still stops at once.
  const onSignal = (name: "SIGINT" | "SIGTERM") => {
    const key = name === "SIGINT" ? "Ctrl-C" : "SIGTERM";
    if (controller.signal.aborted) {
      process.stderr.write(
        io.abortNote
          ? `\nAborted (${key} again) ${io.abortNote}\n`
          : `\nAborted (${key} again): a file running in a transaction is rolled back by the server; one running ` +
            "outside a transaction leaves its version dirty. Run 'strata status' to see which\n",
      );
      process.exit(name === "SIGINT" ? 130 : 143);
    }
    process.stderr.write(
      `\nInterrupted (${key}): ${
        io.interruptNote ?? "stopping after the migration running now, if one is"
      } (${key} again to abort ${io.interruptNote ? "at once" : "it"})\n`,
    );
    controller.abort();
  };
  const onSigint = () => onSignal("SIGINT");
  const onSigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  // A reader that went away (`strata status | head`): what is left to print is dropped, and
  // the command finishes as it would have: a closed pipe must not cut a migration short.
  const closed = { stdout: false, stderr: false };
  const onWriteError = (stream: "stdout" | "stderr") => (error: Error & { code?: string }) => {
    if (error.code !== "EPIPE") throw error;
    closed[stream] = true;
  };
  const onStdoutError = onWriteError("stdout");
  const onStderrError = onWriteError("stderr");
  process.stdout.on("error", onStdoutError);
  process.stderr.on("error", onStderrError);
  let lines: AsyncIterator<string> | undefined;
  const io: CliIo & { dispose(): void } = {
    stdout: (text) => void (closed.stdout || process.stdout.write(text)),
    stderr: (text) => void (closed.stderr || process.stderr.write(text)),
    env: process.env,
    cwd: process.cwd(),
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    async readLine() {
      if (process.stdin.isTTY !== true) {
        let pipe = false;
        try {
          const stat = fstatSync(0);
          pipe = stat.isFIFO() || stat.isSocket();
        } catch {
          return null;
        }
        // A file (`bash < script.sh`, /dev/null): one byte at a time, so the lines after the
        // answer stay for whoever reads stdin next, as golang-migrate's Scanln leaves them.
        if (!pipe) return readLineSync();
      }
      // Loaded only when a prompt needs it (node:readline adds ~15 ms to every start-up).
      const { createInterface } = await import("node:readline");
      lines ??= createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
      if (process.stdin.isTTY === true) {
        const next = await lines.next();
        return next.done ? null : next.value;
      }
      // A pipe (`echo y | strata down`) answers at once; one nobody writes to (a parent
      // process that never closes it) must not hold the command and its connection forever.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waited = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), PIPE_ANSWER_MS)));
      try {
        const next = await Promise.race([lines.next(), waited]);
        if (next === null) {
          process.stdin.destroy();
          return null;
        }
        return next.done ? null : next.value;
      } finally {
        clearTimeout(timer);
      }
    },
    signal: controller.signal,
    client: `strata ${VERSION} (${safeUser()}@${safeHostname()}, pid ${process.pid})`,
    ...(setupError === undefined ? {} : { setupError }),
    dispose() {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      process.stdin.unref?.();
    },
  };
  return io;
}

/** How long a prompt waits for an answer on a pipe that is not a terminal. */
const PIPE_ANSWER_MS = 10_000;

function readLineSync(): string | null {
  const bytes: number[] = [];
  const byte = new Uint8Array(1);
  for (;;) {
    let read: number;
    try {
      read = readSync(0, byte, 0, 1, null);
    } catch {
      break;
    }
    if (read === 0) break;
    if (byte[0] === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
    bytes.push(byte[0]);
  }
  return bytes.length > 0 ? new TextDecoder().decode(new Uint8Array(bytes)) : null;
}

/**
 * Loads `.env` from the working directory; variables already set win. Node's loadEnvFile
 * keeps them, Deno's replaces them (a DATABASE_URL set for a deploy lost to a stale .env),
 * so what was set before is put back.
 */
function loadDotEnv(): void {
  const loader = (process as unknown as { loadEnvFile?: (path: string) => void }).loadEnvFile;
  if (typeof loader !== "function" || !existsSync(".env")) return;
  const before = { ...process.env };
  loader(".env");
  for (const [name, value] of Object.entries(before)) {
    if (process.env[name] !== value) process.env[name] = value;
  }
}

/** The machine's name for the history's client column (Deno without --allow-sys: "unknown"). */
function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return "unknown";
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
