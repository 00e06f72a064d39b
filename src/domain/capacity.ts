/**
 * Capacity of one (domain, window): what the staffing of the domain allows, minus what is
 * already booked. Today staffing is "the active informateurs of the domain"; absences, shifts
 * and overrides will extend `Staffing`, not the callers.
 */
export interface Staffing {
  activeInformateurs: number;
}

export function windowCapacity(staffing: Staffing, callbacksPerAgentPerSlot: number): number {
  return Math.max(0, staffing.activeInformateurs) * callbacksPerAgentPerSlot;
}

export function remainingCapacity(capacity: number, booked: number): number {
  return Math.max(0, capacity - booked);
}
