/**
 * Cooperative turns for the engine's work on the main thread.
 *
 * Between two inferences the engine runs plain JavaScript on the main thread (resampling, box
 * decoding, alignment): 5–30 ms a step. Under load many requests' steps become ready at once, and
 * run back to back before the event loop polls its sockets again, so a request that would be
 * refused at once (429) waited behind hundreds of milliseconds of them. Each step first waits for
 * its turn: one step per event-loop iteration, in arrival order, with socket I/O polled between
 * two steps. Total work is unchanged; only its interleaving with the HTTP side is.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

function runOne(): void {
  const next = waiting.shift();
  // An immediate queued from inside the check phase runs in the next loop iteration, after a poll.
  if (waiting.length > 0) setImmediate(runOne);
  else scheduled = false;
  next?.();
}

/** Resolves when this caller may run its next synchronous step. */
export function mainThreadTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(runOne);
    }
  });
}
