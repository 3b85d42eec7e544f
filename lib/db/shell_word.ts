/**
 * Quoting for commands strata prints for people to paste into a POSIX shell.
 */

/**
 * A word the shell reads back as itself: as it is when it holds only safe characters, else in
 * single quotes.
 *
 * @example
 * ```ts
 * import { shellWord } from "./shell_word.ts";
 * console.log(shellWord("backups/b.dump"), shellWord("it's here")); // backups/b.dump 'it'"'"'s here'
 * ```
 */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}
