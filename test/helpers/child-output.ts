/**
 * A child process's output, quoted for an assertion message: each line behind "│ ". Vitest reads
 * every "at file:line:col" line of a failure's message as a stack frame and loads that file's source
 * map; tsx's bundled files hold a string that looks like an inline source map and is not one, so a
 * child's stack trace quoted as is made the reporter itself crash ("Unexpected token … is not valid
 * JSON") instead of showing the failure.
 */
export function quoted(output: string): string {
  return output.replace(/^/gm, '│ ');
}
