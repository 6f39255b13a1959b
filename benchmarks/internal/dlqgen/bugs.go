package dlqgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// bug is one cause of dead letters: every entry it makes has its reason,
// its destination and source topic, and an error text from its template
// whose variable parts (ids, addresses, offsets, quoted values) differ from
// one entry to the next. A fingerprint that groups bugs gives one group per
// bug.
type bug struct {
	reason      string
	destination string
	topic       string
	weight      float64 // its share of the entries outside incidents
	template    string  // the text with its variable parts named, for the manifest
	render      func(dst []byte, r *rand.Rand, ts int64) []byte
}

// The nine reasons.
const (
	reasonParse         = "parse_error"
	reasonSchema        = "schema_mismatch"
	reasonValidation    = "validation_failed"
	reasonTimeout       = "timeout"
	reasonUnavailable   = "downstream_unavailable"
	reasonPoison        = "poison_message"
	reasonAuth          = "auth_failed"
	reasonRateLimited   = "rate_limited"
	reasonSerialization = "serialization_error"
)

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

// bugs is the catalogue, twenty bugs over nine reasons, the commonest first.
var bugs = []bug{
	{reasonParse, "acme.orders", "orders", 14,
		"json: invalid character <quoted char> looking for beginning of value at offset <n> in message <uuid>",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "json: invalid character '"...)
			dst = append(dst, pick(r, "}", "x", "<", "N", "\\\\", "]", "u")...)
			dst = append(dst, "' looking for beginning of value at offset "...)
			dst = appendInt(dst, r.IntN(4096))
			dst = append(dst, " in message "...)
			return appendUUID4(dst, r)
		}},
	{reasonTimeout, "acme.payments", "payments", 12,
		"POST https://payments.internal:8443/v1/charges/<ch_id>: context deadline exceeded after <n.n>s (request id <req_id>)",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "POST https://payments.internal:8443/v1/charges/"...)
			dst = appendPrefixed(dst, r, "ch")
			dst = append(dst, ": context deadline exceeded after "...)
			dst = strconv.AppendFloat(dst, 30+r.Float64()*0.2, 'f', 3, 64)
			dst = append(dst, "s (request id "...)
			dst = appendPrefixed(dst, r, "req")
			return append(dst, ')')
		}},
	{reasonSchema, "acme.orders", "orders", 10,
		"json: cannot unmarshal string into Go struct field Order.items.quantity of type int",
		func(dst []byte, _ *rand.Rand, _ int64) []byte {
			return append(dst, "json: cannot unmarshal string into Go struct field Order.items.quantity of type int"...)
		}},
	{reasonUnavailable, "acme.shipments", "shipments", 9,
		"rpc error: code = Unavailable desc = dial tcp <ip>:50051: connect: connection refused",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "rpc error: code = Unavailable desc = dial tcp "...)
			dst = appendIPPort(dst, r, 50051)
			return append(dst, ": connect: connection refused"...)
		}},
	{reasonValidation, "acme.customers", "customers", 8,
		`customer <cus_id>: field "email" value <quoted email> does not match ^[^@]+@[^@]+\.[a-z]+$`,
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "customer "...)
			dst = appendPrefixed(dst, r, "cus")
			dst = append(dst, `: field "email" value "`...)
			dst = appendWord(dst, r, 3+r.IntN(6))
			dst = append(dst, pick(r, "+", ".", "_", "")...)
			dst = appendInt(dst, r.IntN(1000))
			dst = append(dst, pick(r, "@example", "@mail.example", "@")...)
			return append(dst, `" does not match ^[^@]+@[^@]+\.[a-z]+$`...)
		}},
	{reasonSerialization, "acme.orders", "orders", 7,
		`postgres: duplicate key value violates unique constraint "orders_pkey": Key (id)=(<ord_id>) already exists. (SQLSTATE 23505)`,
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, `postgres: duplicate key value violates unique constraint "orders_pkey": Key (id)=(`...)
			dst = appendPrefixed(dst, r, "ord")
			return append(dst, ") already exists. (SQLSTATE 23505)"...)
		}},
	{reasonTimeout, "acme.inventory", "inventory", 6,
		"dial tcp <ip>:<port>: i/o timeout",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "dial tcp "...)
			dst = appendIPPort(dst, r, 5432, 6432, 3306)
			return append(dst, ": i/o timeout"...)
		}},
	{reasonAuth, "acme.payments", "payments", 5,
		"token <jwt> rejected: jwt expired at <rfc3339> (now <rfc3339>, skew <n>ms)",
		func(dst []byte, r *rand.Rand, ts int64) []byte {
			exp := ts/1000 - int64(r.IntN(7200))
			dst = append(dst, "token "...)
			dst = appendJWT(dst, r, appendPrefixed(nil, r, "usr"), exp)
			dst = append(dst, " rejected: jwt expired at "...)
			dst = time.Unix(exp, 0).UTC().AppendFormat(dst, time.RFC3339)
			dst = append(dst, " (now "...)
			dst = time.UnixMilli(ts).UTC().AppendFormat(dst, time.RFC3339)
			dst = append(dst, ", skew "...)
			dst = appendInt(dst, r.IntN(900))
			return append(dst, "ms)"...)
		}},
	{reasonUnavailable, "acme.payments", "payments", 5,
		"POST https://api.psp.example/v1/payment_intents/<pi_id>/confirm: 503 Service Unavailable (retry after <n>s, request id <req_id>)",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "POST https://api.psp.example/v1/payment_intents/"...)
			dst = appendPrefixed(dst, r, "pi")
			dst = append(dst, "/confirm: 503 Service Unavailable (retry after "...)
			dst = appendInt(dst, 1+r.IntN(60))
			dst = append(dst, "s, request id "...)
			dst = appendPrefixed(dst, r, "req")
			return append(dst, ')')
		}},
	{reasonRateLimited, "acme.notifications", "notifications", 4,
		"429 Too Many Requests from https://hooks.example.com/t/<base62>: quota <n>/<n> per minute for tenant <tn_id>",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "429 Too Many Requests from https://hooks.example.com/t/"...)
			dst = appendBase62(dst, r, 22)
			dst = append(dst, ": quota "...)
			q := pick(r, 60, 120, 600, 1200)
			dst = appendInt(dst, q+r.IntN(20))
			dst = append(dst, '/')
			dst = appendInt(dst, q)
			dst = append(dst, " per minute for tenant "...)
			return appendPrefixed(dst, r, "tn")
		}},
	{reasonPoison, "acme.orders", "orders", 4,
		"processing <ord_id>: handler panicked: runtime error: index out of range [<n>] with length <n>",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "processing "...)
			dst = appendPrefixed(dst, r, "ord")
			n := r.IntN(12)
			dst = append(dst, ": handler panicked: runtime error: index out of range ["...)
			dst = appendInt(dst, n)
			dst = append(dst, "] with length "...)
			return appendInt(dst, n)
		}},
	{reasonSchema, "acme.events", "events", 3,
		"avro: unknown schema id <n> in message header (magic 0x00, fingerprint <hex16>)",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "avro: unknown schema id "...)
			dst = appendInt(dst, 100000+r.IntN(900000))
			dst = append(dst, " in message header (magic 0x00, fingerprint "...)
			dst = appendHex(dst, r, 16)
			return append(dst, ')')
		}},
	{reasonValidation, "acme.payments", "payments", 3,
		"charge <ch_id>: amount <n.nn> EUR exceeds the limit of <n> EUR for merchant <acct_id>",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "charge "...)
			dst = appendPrefixed(dst, r, "ch")
			dst = append(dst, ": amount "...)
			dst = appendInt(dst, 10000+r.IntN(90000))
			dst = fmt.Appendf(dst, ".%02d", r.IntN(100))
			dst = append(dst, " EUR exceeds the limit of 10000 EUR for merchant "...)
			return appendPrefixed(dst, r, "acct")
		}},
	{reasonRateLimited, "acme.search", "search", 2,
		"elasticsearch: es_rejected_execution_exception: rejected execution of coordinating operation [coordinating_and_primary_bytes=<n>, replica_bytes=<n>, all_bytes=<n>, max_coordinating_and_primary_bytes=<n>]",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			a, b := 100000000+r.IntN(10000000), r.IntN(1000000)
			dst = append(dst, "elasticsearch: es_rejected_execution_exception: rejected execution of coordinating operation [coordinating_and_primary_bytes="...)
			dst = appendInt(dst, a)
			dst = append(dst, ", replica_bytes="...)
			dst = appendInt(dst, b)
			dst = append(dst, ", all_bytes="...)
			dst = appendInt(dst, a+b)
			return append(dst, ", max_coordinating_and_primary_bytes=107374182]"...)
		}},
	{reasonSerialization, "acme.inventory", "inventory", 2,
		`decimal <n.nnnn> exceeds precision 10 scale 2 for column "unit_price" of sku SKU-<n>-<n>`,
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "decimal "...)
			dst = appendInt(dst, r.IntN(100000000))
			dst = fmt.Appendf(dst, ".%04d", r.IntN(10000))
			dst = append(dst, ` exceeds precision 10 scale 2 for column "unit_price" of sku SKU-`...)
			dst = appendInt(dst, 10000+r.IntN(90000))
			dst = append(dst, '-')
			return appendInt(dst, r.IntN(100))
		}},
	{reasonAuth, "acme.customers", "customers", 2,
		`api key ak_live_<base62> is not authorised for scope "customers:write" on account <acct_id>`,
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "api key ak_live_"...)
			dst = appendBase62(dst, r, 24)
			dst = append(dst, ` is not authorised for scope "customers:write" on account `...)
			return appendPrefixed(dst, r, "acct")
		}},
	{reasonTimeout, "acme.shipments", "shipments", 2,
		"kafka: produce to shipments.v2 partition <n> timed out after <n>ms: broker <ip>:9092 (leader epoch <n>) did not answer",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "kafka: produce to shipments.v2 partition "...)
			dst = appendInt(dst, r.IntN(24))
			dst = append(dst, " timed out after "...)
			dst = appendInt(dst, 10000+r.IntN(50))
			dst = append(dst, "ms: broker "...)
			dst = appendIPPort(dst, r, 9092)
			dst = append(dst, " (leader epoch "...)
			dst = appendInt(dst, r.IntN(400))
			return append(dst, ") did not answer"...)
		}},
	{reasonParse, "acme.events", "events", 1.5,
		"unexpected EOF reading message <uuid> at byte <n> of <n> (partition <n>, offset <n>)",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "unexpected EOF reading message "...)
			dst = appendUUID4(dst, r)
			total := 200 + r.IntN(1800)
			dst = append(dst, " at byte "...)
			dst = appendInt(dst, r.IntN(total))
			dst = append(dst, " of "...)
			dst = appendInt(dst, total)
			dst = append(dst, " (partition "...)
			dst = appendInt(dst, r.IntN(12))
			dst = append(dst, ", offset "...)
			dst = appendInt(dst, 18000000+r.IntN(9000000))
			return append(dst, ')')
		}},
	{reasonPoison, "acme.events", "events", 1,
		"decode protobuf acme.events.v1.Event at byte <n>: proto: cannot parse invalid wire-format data (session 0x<hex>)",
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "decode protobuf acme.events.v1.Event at byte "...)
			dst = appendInt(dst, r.IntN(2000))
			dst = append(dst, ": proto: cannot parse invalid wire-format data (session 0x"...)
			dst = appendHex(dst, r, 8+r.IntN(9))
			return append(dst, ')')
		}},
	{reasonSchema, "acme.orders", "orders", 1,
		`order <ord_id>: unknown enum value <quoted value> for field status (schema version <n>)`,
		func(dst []byte, r *rand.Rand, _ int64) []byte {
			dst = append(dst, "order "...)
			dst = appendPrefixed(dst, r, "ord")
			dst = append(dst, ": unknown enum value "...)
			dst = strconv.AppendQuote(dst, pick(r, "SHIPPED_PARTIALLY", "ON_HOLD", "REFUND_PENDING", "backordered"))
			dst = append(dst, " for field status (schema version "...)
			dst = appendInt(dst, 14+r.IntN(3))
			return append(dst, ')')
		}},
}

// Bugs returns the number of distinct bugs the generator draws from.
func Bugs() int { return len(bugs) }
