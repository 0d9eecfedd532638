// Package web owns the pages a person sees in dev mode: the dev outbox (every message Latch
// "sent", rendered as its recipient would see it) and the demo app, a small server-rendered site
// that signs people in through Latch's public HTTP API exactly as a customer's backend would.
//
// The demo holds its client secret, its client access token and each visitor's user tokens on the
// server only: the browser gets nothing but a random session id in an HttpOnly cookie. Every form
// is CSRF-checked (a per-browser random cookie echoed in a hidden field), the pages work without
// JavaScript, and message HTML is only ever shown inside a sandboxed frame.
//
// This package must never be mounted in production mode, never reach into Latch's services or
// store for the demo (only its HTTP API; the outbox alone reads the store), and never log a
// code, a token or a secret. Apart from the outbox, whose job is to show messages, its pages show
// no token, only the ID token's decoded claims and a new TOTP secret at enrolment.
package web
