// Package delivery owns how a login message reaches a person: the Message
// type, the Sender interface that providers implement, routing by channel,
// validation of Mosaic-style email customisation, and rendering of login
// emails and SMS bodies.
//
// Message bodies carry one-time codes and magic links, so nothing in this
// package or its provider subpackages may ever log a message body, or put a
// body, a code, a link or a provider secret into an error string.
package delivery
