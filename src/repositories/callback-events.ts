import type { Db } from '../db/schema.js';

export interface CallbackEvent {
  callbackId: string;
  type: string;
  fromStatus: string | null;
  toStatus: string | null;
  actor: string;
  at: Date;
  data?: Record<string, unknown>;
}

export async function recordEvents(db: Db, events: CallbackEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('callback_events')
    .values(
      events.map((e) => ({
        callback_id: e.callbackId,
        type: e.type,
        from_status: e.fromStatus,
        to_status: e.toStatus,
        actor: e.actor,
        at: e.at,
        data: JSON.stringify(e.data ?? {}),
      })),
    )
    .execute();
}

/** Whether this informateur was ever given the callback (an 'assigned' event in its name). */
export async function wasAssignedTo(db: Db, callbackId: string, agentId: string): Promise<boolean> {
  const row = await db
    .selectFrom('callback_events')
    .select('id')
    .where('callback_id', '=', callbackId)
    .where('type', '=', 'assigned')
    .where('actor', '=', `agent:${agentId}`)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function eventsOf(db: Db, callbackId: string) {
  return db
    .selectFrom('callback_events')
    .select(['type', 'from_status', 'to_status', 'actor', 'at', 'data'])
    .where('callback_id', '=', callbackId)
    .orderBy('id')
    .execute();
}
