export {
  ZONE,
  PARIS,
  type CalendarSettings,
  type ClosedReason,
  type Closure,
  type DaySchedule,
  type Interval,
  type SlotCheck,
} from './types.js';
export { addDays, daysBetween, isValidDate } from './civil-date.js';
export { parseLocalTime, todayIn } from './local-time.js';
export { holidaysOfYear } from './holidays.js';
export { daySchedule, openingHours } from './opening-hours.js';
export { windowsOfDay } from './windows.js';
export { bookableWindows, checkSlotStart } from './bookable.js';
export {
  firstOpenInstantAtOrAfter,
  nextOpeningStartAfter,
  openIntervalAt,
  OPEN_SEARCH_DAYS,
} from './open-instants.js';
