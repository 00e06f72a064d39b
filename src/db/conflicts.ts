/**
 * PostgreSQL rolled the transaction back whole because it could not order it with another one:
 * a deadlock's victim (40P01) or a serialization failure (40001). Nothing it did remains, so it
 * may be run again as it was.
 */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** Runs `attempt` again (at most `tries` times in all) while PostgreSQL rolls it back as a transient conflict. */
export async function retryingConflicts<T>(attempt: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransientConflict(err) || i >= tries) throw err;
    }
  }
}
