// Package totp owns the TOTP rules of Latch: RFC 6238 code computation and
// checking, key URIs and QR codes, (later: registration, the replay guard,
// devices, transaction signing). It never logs a secret or a code.
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
