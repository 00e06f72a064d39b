/**
 * Last-resort clean-up of what a fault test started (private PostgreSQL and Redis instances):
 * each registers a synchronous undo that runs at process exit or on a terminating signal, even
 * when a test failed before its afterAll. afterAll hooks do the ordinary, asynchronous clean-up
 * and unregister.
 */
type Undo = () => void;

const undos = new Map<number, Undo>();
let nextId = 0;

function runAll(): void {
  for (const [id, undo] of [...undos.entries()].reverse()) {
    undos.delete(id);
    try {
      undo();
    } catch {
      // keep undoing the others
    }
  }
}

process.once('exit', runAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    runAll();
    process.exit(1);
  });
}

/** Registers a synchronous undo; returns the function that unregisters it. */
export function atExit(undo: Undo): () => void {
  const id = nextId++;
  undos.set(id, undo);
  return () => {
    undos.delete(id);
  };
}
