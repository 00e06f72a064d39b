/**
 * French phone number normalisation for callback requests.
 *
 * Pure module (no I/O). Validity and number types come from libphonenumber-js
 * `max` metadata (Google libphonenumber data), never from hand-written regexes.
 *
 * Accepted: numbers of mainland France and of the overseas territories that
 * share the French numbering plan or have their own calling code (PhoneRegion).
 *
 * Decisions:
 * - National writings (no `+`/`00`): the numbering plan is unified, so a number
 *   such as `0596 61 23 45` or `0263 12 34 56` is dialled the same way from
 *   Paris and means Martinique / Réunion. libphonenumber's FR patterns are
 *   broad and also accept some of these (+33 596…, +33 263…, +33 269…), so the
 *   overseas reading wins when both FR and an overseas region accept the digits
 *   as a fixed-line/mobile number; when FR gives a special type (08 toll-free or
 *   UAN, 09 VoIP…) mainland wins; an overseas reading of another type is only
 *   used when FR does not validate the number at all.
 *   Saint-Pierre-et-Miquelon is not part of the unified plan: only `+508`/`00508`.
 * - `+33 690 12 34 56` (an overseas number wrongly written with +33) is not a
 *   valid +33 number; it is re-read as the national `0690 12 34 56`, i.e.
 *   +590 690 12 34 56 (Guadeloupe). Same for every overseas prefix.
 * - PREMIUM_RATE and SHARED_COST (08 1x, 08 2x, 08 36, 08 84, 08 9x…) are
 *   refused as `premium_rate`: calling them back would cost the service.
 * - TOLL_FREE (0800–0805) and UAN (0806–0809, billed as an ordinary call) are
 *   ACCEPTED: odd for a callback but harmless: the call costs the 3939 nothing
 *   extra, and the callee's organisation chose to pay for inbound calls.
 * - Extensions, letters and any character other than digits, whitespace and
 *   the usual separators `. - / ( ) +` are refused as `invalid`, as are inputs
 *   longer than 30 characters once trimmed.
 * - Explicit international numbers whose calling code is not French are
 *   `not_french` even when libphonenumber deems them invalid in their country.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';
import { Metadata } from 'libphonenumber-js/core';
import metadataJson from 'libphonenumber-js/max/metadata';

export type PhoneRegion = 'FR' | 'GP' | 'MQ' | 'GF' | 'RE' | 'YT' | 'PM' | 'BL' | 'MF';

export type PhoneCheck =
  | { ok: true; e164: string; region: PhoneRegion }
  | { ok: false; reason: 'invalid' | 'premium_rate' | 'not_french' };

export const MAX_PHONE_INPUT_LENGTH = 30;

const PHONE_REGIONS: readonly PhoneRegion[] = ['FR', 'GP', 'MQ', 'GF', 'RE', 'YT', 'PM', 'BL', 'MF'];

/** Calling codes of the PhoneRegion list, as libphonenumber knows them (YT shares 262 with RE; BL/MF share 590 with GP). */
const FRENCH_CALLING_CODES: ReadonlySet<string> = new Set(['33', '262', '508', '590', '594', '596']);

/**
 * Regions reachable with a national `0…` writing from mainland France, besides FR.
 * BL and MF are found through GP (same calling code 590: libphonenumber picks the
 * exact territory from the leading digits).
 */
const OVERSEAS_NATIONAL_REGIONS: readonly CountryCode[] = ['GP', 'MQ', 'GF', 'RE', 'YT'];

/** libphonenumber's metadata as its Metadata class has it (its typings leave these out). */
interface MetadataInternals {
  selectNumberingPlan(country: string): void;
  numberingPlan: {
    callingCode(): string;
    nationalNumberPattern(): string;
    nationalPrefixForParsing(): string | undefined;
    nationalPrefixTransformRule(): string | undefined;
  };
  hasTypes(): boolean;
  type(name: string): { pattern(): string } | undefined;
}

/** Every number type libphonenumber tells apart (getNumberType's list, fixed line first). */
const NUMBER_TYPES = [
  'FIXED_LINE',
  'MOBILE',
  'PREMIUM_RATE',
  'TOLL_FREE',
  'SHARED_COST',
  'VOIP',
  'PERSONAL_NUMBER',
  'PAGER',
  'UAN',
  'VOICEMAIL',
];

/**
 * For each overseas region read from a national writing, whether a national number could be
 * valid there. libphonenumber's validity is: the national number matches the national-number
 * pattern of its territory (one of those sharing the calling code, picked from the leading
 * digits) and, where the territory has number types, the pattern of one of them. A number no
 * territory of the group accepts so, prefix stripped or not, is invalid there, and its reading
 * (a full parse) is skipped: a mainland mobile took 66–106 µs with every overseas region read,
 * 12–21 µs without the impossible ones. Built from libphonenumber's own metadata; null, every region
 * read, if the library no longer exposes it.
 */
const POSSIBLE_OVERSEAS: ReadonlyMap<CountryCode, (nationalNumber: string) => boolean> | null = (() => {
  try {
    const metadata = new Metadata(metadataJson) as unknown as MetadataInternals;
    const whole = (pattern: string) => {
      if (typeof pattern !== 'string' || pattern.length === 0) throw new Error('no pattern');
      return new RegExp(`^(?:${pattern})$`);
    };
    const groups = new Map<string, ((n: string) => boolean)[]>();
    for (const region of PHONE_REGIONS) {
      metadata.selectNumberingPlan(region);
      // The filter reads the national number as the digits after one leading 0: what parsing
      // does while every plan's national prefix for parsing is a plain 0.
      const plan = metadata.numberingPlan;
      if (plan.nationalPrefixForParsing() !== '0' || plan.nationalPrefixTransformRule())
        throw new Error('national prefix');
      const national = whole(plan.nationalNumberPattern());
      const typed = metadata.hasTypes()
        ? NUMBER_TYPES.map((t) => metadata.type(t)?.pattern())
            .filter((x): x is string => typeof x === 'string' && x.length > 0)
            .map(whole)
        : null;
      const accepts = (n: string) => national.test(n) && (typed === null || typed.some((t) => t.test(n)));
      const code = plan.callingCode();
      groups.set(code, [...(groups.get(code) ?? []), accepts]);
    }
    return new Map(
      OVERSEAS_NATIONAL_REGIONS.map((region) => {
        metadata.selectNumberingPlan(region);
        const group = groups.get(metadata.numberingPlan.callingCode())!;
        return [region, (n: string) => group.some((accepts) => accepts(n))] as const;
      }),
    );
  } catch {
    return null;
  }
})();

/** Whether national writings skip impossible overseas readings (false: the library changed). */
export const OVERSEAS_FILTER_ACTIVE = POSSIBLE_OVERSEAS !== null;

/** The overseas regions worth reading `digits` (a national writing, separators removed) in. */
function overseasCandidates(digits: string, everyRegion: boolean): readonly CountryCode[] {
  if (everyRegion || POSSIBLE_OVERSEAS === null || !/^0\d+$/.test(digits)) return OVERSEAS_NATIONAL_REGIONS;
  return OVERSEAS_NATIONAL_REGIONS.filter((region) => {
    const possible = POSSIBLE_OVERSEAS.get(region)!;
    return possible(digits.slice(1)) || possible(digits);
  });
}

const GEOGRAPHIC_TYPES: ReadonlySet<string> = new Set(['FIXED_LINE', 'MOBILE', 'FIXED_LINE_OR_MOBILE']);
const PREMIUM_TYPES: ReadonlySet<string> = new Set(['PREMIUM_RATE', 'SHARED_COST']);

/** Digits, any whitespace, and the separators people use: . - / ( ) + and Unicode dashes. */
const ALLOWED_INPUT = /^[0-9\s.\-/()+\u2010-\u2015\u2212]+$/u;
const SEPARATORS = /[\s.\-/()\u2010-\u2015\u2212]/gu;

const INVALID: PhoneCheck = { ok: false, reason: 'invalid' };
const NOT_FRENCH: PhoneCheck = { ok: false, reason: 'not_french' };
const PREMIUM: PhoneCheck = { ok: false, reason: 'premium_rate' };

const MASK = '••';

function isPhoneRegion(value: string | undefined): value is PhoneRegion {
  return value !== undefined && (PHONE_REGIONS as readonly string[]).includes(value);
}

function parse(text: string, defaultCountry: CountryCode): PhoneNumber | undefined {
  try {
    return parsePhoneNumberFromString(text, { defaultCountry, extract: false });
  } catch {
    return undefined;
  }
}

function isGeographic(n: PhoneNumber): boolean {
  const type = n.getType();
  return type !== undefined && GEOGRAPHIC_TYPES.has(type);
}

function isUsable(n: PhoneNumber): boolean {
  return n.ext === undefined && isPhoneRegion(n.country) && n.isValid();
}

/**
 * Resolve a national writing (`06…`, `0690…`) to the right territory, see the module comment.
 * `digits` is `text` without its separators.
 */
function resolveNational(text: string, digits: string, everyRegion: boolean): PhoneNumber | undefined {
  const parsedFr = parse(text, 'FR');
  const mainland =
    parsedFr !== undefined && isUsable(parsedFr) && parsedFr.countryCallingCode === '33'
      ? parsedFr
      : undefined;
  const overseas: PhoneNumber[] = [];
  for (const region of overseasCandidates(digits, everyRegion)) {
    const n = parse(text, region);
    if (n !== undefined && isUsable(n) && n.countryCallingCode !== '33') overseas.push(n);
  }
  // Both plans accept it as a geographic line (0596…, 0263…, 0269…): the overseas territory is the specific one.
  // A mainland special number (08 UAN, 09 VoIP…) wins over an overseas reading of the same digits.
  if (mainland === undefined || isGeographic(mainland)) {
    const geographic = overseas.find(isGeographic);
    if (geographic) return geographic;
  }
  return mainland ?? overseas[0];
}

function classify(n: PhoneNumber): PhoneCheck {
  if (!isPhoneRegion(n.country)) return INVALID;
  const type = n.getType();
  if (type !== undefined && PREMIUM_TYPES.has(type)) return PREMIUM;
  const e164 = n.number;
  if (!/^\+\d{8,15}$/.test(e164)) return INVALID;
  return { ok: true, e164, region: n.country };
}

function normalize(input: string, everyRegion: boolean): PhoneCheck {
  const trimmed = input.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_PHONE_INPUT_LENGTH) return INVALID;
  if (!ALLOWED_INPUT.test(trimmed)) return INVALID;
  // libphonenumber knows NBSP but not every Unicode space (e.g. U+202F, French typography).
  const text = trimmed.replace(/\s/gu, ' ');

  const compact = text.replace(SEPARATORS, '');
  const international = compact.startsWith('+') || compact.startsWith('00');

  if (!international) {
    const n = resolveNational(text, compact, everyRegion);
    return n ? classify(n) : INVALID;
  }

  // `00` is France's international prefix: parsing with FR as default handles both `+` and `00`.
  const n = parse(text, 'FR');
  if (n === undefined) return INVALID;
  if (!FRENCH_CALLING_CODES.has(n.countryCallingCode)) return NOT_FRENCH;
  if (isUsable(n)) return classify(n);
  if (n.ext === undefined && n.countryCallingCode === '33') {
    // Overseas number written with +33 (e.g. +33 690 12 34 56): read it as the national 0690…
    const national = `0${n.nationalNumber}`;
    const remapped = resolveNational(national, national, everyRegion);
    if (remapped && remapped.countryCallingCode !== '33') return classify(remapped);
  }
  return INVALID;
}

/**
 * Normalise a user-typed French phone number to E.164. Never throws. `everyRegion` (tests):
 * read a national writing in every overseas region, without skipping the impossible ones.
 */
export function normalizeFrenchPhone(input: string, everyRegion = false): PhoneCheck {
  if (typeof input !== 'string') return INVALID;
  try {
    return normalize(input, everyRegion);
  } catch {
    return INVALID;
  }
}

/**
 * Mask a phone number for display/logs: national format, every group but the
 * first and the last replaced by `••` (`+33612345678` -> `06 •• •• •• 78`).
 * Accepts any writing normalizeFrenchPhone accepts, and foreign E.164 numbers.
 * Never throws; returns `••` for anything unparseable or too short to mask.
 */
export function maskPhone(e164: string): string {
  try {
    if (typeof e164 !== 'string') return MASK;
    const text = e164.trim();
    if (text.length === 0 || text.length > MAX_PHONE_INPUT_LENGTH) return MASK;
    const check = normalizeFrenchPhone(text);
    const n = check.ok ? parse(check.e164, 'FR') : ALLOWED_INPUT.test(text) ? parse(text, 'FR') : undefined;
    if (n === undefined) return MASK;
    const groups = n
      .formatNational()
      .split(/\s+/u)
      .filter((g) => g.length > 0);
    const first = groups[0];
    const last = groups[groups.length - 1];
    if (groups.length < 3 || first === undefined || last === undefined) return MASK;
    return [first, ...groups.slice(1, -1).map(() => MASK), last].join(' ');
  } catch {
    return MASK;
  }
}
