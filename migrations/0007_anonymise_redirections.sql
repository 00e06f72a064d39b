-- Anonymisation (src/repositories/retention.ts) erased the phone, the subject and the notes of a
-- finished callback but kept where the informateur redirected the call: free text typed during
-- the call (up to 300 characters), which can name or number a person. It erases it now; this
-- erases it from the callbacks anonymised before.
UPDATE callbacks SET redirected_to = NULL
WHERE anonymised_at IS NOT NULL AND redirected_to IS NOT NULL;

UPDATE callback_events e SET data = e.data - 'redirectedTo'
FROM callbacks c
WHERE c.id = e.callback_id AND c.anonymised_at IS NOT NULL AND e.data ? 'redirectedTo';
