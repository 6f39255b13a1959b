package dlqgen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Payload sizes: uniform between these, in bytes.
const (
	minPayload = 200
	maxPayload = 2000
)

// appendPayload appends the original message of an entry of b at ts: a
// JSON event of about size bytes, or when binary a Confluent-framed Avro
// record (magic byte 0, a 4-byte schema id, then size-5 bytes).
func appendPayload(dst []byte, r *rand.Rand, b *bug, ts int64, size int, binary bool) []byte {
	if binary {
		id := 100000 + r.IntN(900000)
		dst = append(dst, 0, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
		for range size - 5 {
			dst = append(dst, byte(r.Uint32()))
		}
		return dst
	}
	start := len(dst)
	dst = append(dst, `{"type":"`...)
	dst = append(dst, b.topic...)
	dst = append(dst, pick(r, ".created", ".updated", ".completed")...)
	dst = append(dst, `","id":"`...)
	dst = appendPrefixed(dst, r, "ord")
	dst = append(dst, `","customer":"`...)
	dst = appendPrefixed(dst, r, "cus")
	dst = append(dst, `","at":"`...)
	dst = time.UnixMilli(ts).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","currency":"EUR","amount":`...)
	dst = strconv.AppendInt(dst, int64(r.IntN(500000)), 10)
	dst = append(dst, `,"items":[`...)
	for i := 0; ; i++ {
		item := len(dst)
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"sku":"SKU-`...)
		dst = strconv.AppendInt(dst, int64(10000+r.IntN(90000)), 10)
		dst = append(dst, `","qty":`...)
		dst = strconv.AppendInt(dst, int64(1+r.IntN(9)), 10)
		dst = append(dst, `,"price":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(100000)), 10)
		dst = append(dst, `}`...)
		if len(dst)-start+len(`],"note":""}`) > size && i > 0 {
			dst = dst[:item]
			break
		}
	}
	dst = append(dst, `],"note":"`...)
	for len(dst)-start+2 < size {
		dst = appendWord(dst, r, 1+r.IntN(9))
		dst = append(dst, ' ')
	}
	if len(dst)-start+2 > size && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return append(dst, `"}`...)
}
