/** The callback state machine of the contract. */
export const CALLBACK_STATUSES = [
  'scheduled',
  'queued',
  'assigned',
  'completed',
  'failed',
  'cancelled',
] as const;
export type CallbackStatus = (typeof CALLBACK_STATUSES)[number];

export const ACTIVE_STATUSES: readonly CallbackStatus[] = ['scheduled', 'queued', 'assigned'];
export const TERMINAL_STATUSES: readonly CallbackStatus[] = ['completed', 'failed', 'cancelled'];

const TRANSITIONS: Record<CallbackStatus, readonly CallbackStatus[]> = {
  scheduled: ['queued', 'cancelled'],
  queued: ['assigned', 'cancelled'],
  // no_answer goes back to scheduled; an expired lease back to queued
  assigned: ['completed', 'failed', 'scheduled', 'queued'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: CallbackStatus, to: CallbackStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A citizen may cancel until a call is under way. */
export function citizenMayCancel(status: CallbackStatus): boolean {
  return status === 'scheduled' || status === 'queued';
}
