/**
 * The CLI's runtime adapter for Node and Deno (through its node: compatibility): streams,
 * environment with `.env`, stdin prompts, and SIGINT that lets the running migration finish.
 */
import { existsSync } from "node:fs";
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
  loadDotEnv();
  const controller = new AbortController();
  // SIGTERM (docker stop, a Kubernetes rollout) is handled as Ctrl-C: what runs finishes
  // within the grace period more often than not, and a second signal still stops at once.
  const onSignal = (name: "SIGINT" | "SIGTERM") => {
    const key = name === "SIGINT" ? "Ctrl-C" : "SIGTERM";
    if (controller.signal.aborted) {
      process.stderr.write(
        `\nAborted (${key} again): a file running in a transaction is rolled back by the server; one running ` +
          "outside a transaction leaves its version dirty. Run 'strata status' to see which\n",
      );
      process.exit(name === "SIGINT" ? 130 : 143);
    }
    process.stderr.write(
      `\nInterrupted (${key}): stopping after the migration running now, if one is (${key} again to abort it)\n`,
    );
    controller.abort();
  };
  const onSigint = () => onSignal("SIGINT");
  const onSigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  let lines: AsyncIterator<string> | undefined;
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    async readLine() {
      // Loaded only when a prompt needs it (node:readline adds ~15 ms to every start-up).
      const { createInterface } = await import("node:readline");
      lines ??= createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
      const next = await lines.next();
      return next.done ? null : next.value;
    },
    signal: controller.signal,
    client: `strata ${VERSION} (${safeUser()}@${hostname()}, pid ${process.pid})`,
    dispose() {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      process.stdin.unref?.();
    },
  };
}

function loadDotEnv(): void {
  const loader = (process as unknown as { loadEnvFile?: (path: string) => void }).loadEnvFile;
  if (typeof loader === "function" && existsSync(".env")) loader(".env");
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
