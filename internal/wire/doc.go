// Package wire holds the envelope's hand-written text primitives: JSON strings, base64 and UUIDv7 ids.
package wire
