import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from './errors.js';

/** Strict: a byte sequence that is not UTF-8 is refused, not turned into U+FFFD. A BOM is dropped. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The charset a Content-Type declares, lower-cased and unquoted; undefined when none is declared. */
function declaredCharset(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2] ?? '').toLowerCase() : undefined;
}

/** JSON's own white space (RFC 8259): space, tab, line feed, carriage return. */
const JSON_BLANK = /^[ \t\n\r]*$/;

/** Charsets read as UTF-8: UTF-8 itself, and ASCII, a subset of it (checked byte by byte). */
const UTF8_NAMES = new Set(['utf-8', 'utf8']);
const ASCII_NAMES = new Set(['us-ascii', 'ascii']);

/** Why a JSON body cannot be read as sent, or null. */
function encodingRefusal(req: FastifyRequest, bytes: Buffer): string | null {
  const charset = declaredCharset(req.headers['content-type']);
  const ascii = charset !== undefined && ASCII_NAMES.has(charset);
  if (charset !== undefined && !UTF8_NAMES.has(charset) && !ascii)
    return `Jeu de caractères « ${charset} » non pris en charge : le corps JSON doit être en UTF-8 (charset=utf-8).`;
  if (ascii && bytes.some((b) => b > 0x7f))
    return `Le corps est déclaré en « ${charset} » mais contient des octets hors ASCII : déclarez charset=utf-8.`;
  const coding = req.headers['content-encoding']?.trim().toLowerCase();
  if (coding && coding !== 'identity')
    return `Content-Encoding « ${coding} » non pris en charge : envoyez le corps JSON sans compression.`;
  return null;
}

/**
 * JSON bodies, read as JSON's own encoding: UTF-8. Fastify's parser decodes any body as UTF-8
 * whatever its declared charset, turning what is not UTF-8 into U+FFFD, and ignores
 * Content-Encoding: a subject sent in ISO-8859-1 was stored corrupted ("pr\uFFFDavis") and a
 * gzip body read as is. Those are refused now (400 VALIDATION_ERROR), as is a body that is not
 * valid UTF-8; the JSON itself is parsed as fastify does (prototype poisoning refused).
 *
 * An empty body (or one of nothing but a BOM or JSON white space) is no body: routes that take none
 * (pull next, deletions) accept a client that sends the header anyway, and routes that need one
 * say it is missing.
 */
export function registerJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // JSON is the only body the API takes: fastify's text/plain parser let a body-less route
  // (pull next, deletions) take any text, in any charset or encoding, without a word.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    const refusal = encodingRefusal(req, bytes);
    if (refusal) return done(new AppError('VALIDATION_ERROR', refusal), undefined);
    let text: string;
    try {
      text = UTF8.decode(bytes);
    } catch {
      return done(
        new AppError('VALIDATION_ERROR', 'Le corps de la requête n’est pas du texte UTF-8 valide.'),
        undefined,
      );
    }
    // Nothing but a BOM or JSON's white space: no body either.
    if (JSON_BLANK.test(text)) return done(null, undefined);
    parseJson(req, text, done);
  });
}
