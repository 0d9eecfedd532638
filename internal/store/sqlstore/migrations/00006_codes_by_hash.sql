-- +goose Up
-- Only high-entropy codes (magic links, authorization codes) are found by their hash alone; a
-- numeric OTP is found by its identifier (its hash is bound to it, and short codes repeat). Most
-- codes are OTPs, and indexing their random hashes put one more random index page into every
-- send's write, so the hash index holds only the codes marked by_hash.
ALTER TABLE codes ADD COLUMN by_hash BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE codes SET by_hash = TRUE WHERE method IN ('link', 'authcode');
DROP INDEX codes_hash;
CREATE INDEX codes_hash ON codes(code_hash) WHERE by_hash;

-- +goose Down
DROP INDEX codes_hash;
CREATE INDEX codes_hash ON codes(code_hash);
ALTER TABLE codes DROP COLUMN by_hash;
