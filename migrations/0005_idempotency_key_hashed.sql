-- idempotency_keys keeps an Idempotency-Key as its SHA-256 ('sha256:' and hex digits, as
-- src/services/idempotency-seal.ts storedKey writes it), no longer in clear, and its first answer
-- with the cancel token sealed by that key. Rows written before keep their answer's token in
-- clear until they expire (24 hours); their keys are converted here so their replays still match.
UPDATE idempotency_keys SET key = 'sha256:' || encode(sha256(convert_to(key, 'UTF8')), 'hex');
