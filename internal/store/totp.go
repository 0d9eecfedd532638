package store

// TOTPs stores TOTP authenticators (secrets sealed), their replay guard, devices and
// transaction-signing challenges.
type TOTPs interface{}
