import { IANAZone } from 'luxon';
import { remember } from '../bounded-cache.js';

const HOUR_MS = 3_600_000;
/** Hours remembered at most (about eleven years of them): then the memory starts again. */
const CACHE_MAX_HOURS = 100_000;

/**
 * An IANA zone whose offsets are remembered per UTC hour. Luxon asks Intl for the zone's offset
 * (`formatToParts`) at every DateTime it builds or shifts in the zone: a booking built about a
 * dozen, 6 % of the API's time under intake load. The answer is the zone's own, only not asked
 * twice: an hour whose first and last seconds have the same offset holds no change of offset
 * (zones change at most a few times a year, whole seconds apart), so that offset holds for all
 * of it; an hour that holds a change is asked at each instant, as before. It is still an
 * 'iana' zone of the same name: equal to Luxon's own, formatted by Intl the same way.
 */
export class RememberingZone extends IANAZone {
  private readonly offsets = new Map<number, number>();

  override offset(ts: number): number {
    const hour = Math.floor(ts / HOUR_MS);
    const known = this.offsets.get(hour);
    if (known !== undefined) return known;
    const start = hour * HOUR_MS;
    const first = super.offset(start);
    if (Number.isNaN(first) || super.offset(start + HOUR_MS - 1000) !== first) return super.offset(ts);
    return remember(this.offsets, CACHE_MAX_HOURS, hour, first);
  }
}
