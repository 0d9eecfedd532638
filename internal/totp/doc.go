// Package totp owns the TOTP rules of Latch: RFC 6238 code computation and
// checking, key URIs and QR codes, and the Service on top of them:
// registration (with the app's limit and allow_override), login with the
// replay guard (an accepted time step is never accepted again for that
// authenticator, enforced by one conditional update in the store so it holds
// across nodes), device pairing (pending until the first code, expiring after
// 10 minutes), transaction signing and revocation. Secrets are sealed at rest
// with the encryption key, bound to their row. It never logs a secret or a
// code, and takes its time and randomness from its caller.
//
// Codes are computed as RFC 6238 describes on top of RFC 4226 (HOTP dynamic
// truncation) with HMAC-SHA1, HMAC-SHA256 or HMAC-SHA512. Secrets are raw
// bytes; they travel as unpadded RFC 4648 base32 (EncodeSecret,
// DecodeSecret) and are handed to authenticator apps as otpauth:// key URIs
// (KeyURI), usually shown as a QR code (QRCodeDataURL).
//
// Match is the only way to check a code. It compares in constant time and
// evaluates every step of the window, so its timing reveals neither how much
// of the code was right nor which step matched.
package totp
