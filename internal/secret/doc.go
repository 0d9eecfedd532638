// Package secret owns secrets at rest and random values: the AES-256-GCM box that encrypts signing
// keys and TOTP secrets, the keyed hash (HMAC-SHA256) under which codes, client secrets and refresh
// tokens are stored, and random ids and codes. It never logs or formats a secret's value.
package secret
