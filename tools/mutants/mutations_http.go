package main

// httpRedirects is the tests of the HTTP backend's redirects.
const httpRedirects = "TestHTTPRedirectToAnotherOriginIsRefused|TestHTTPFollowsRedirectsThatKeepTheBody"

// configLineBreaks is the tests that CR, LF and NUL are refused in config
// values, written or expanded from ${VAR}.
const configLineBreaks = "TestNewRefusesLineBreaksInHeadersAndNames|TestExpandRefusesLineBreaksInValues"

// httpMutations break the HTTP backend's edges: redirects, 413, status handling, and the Kafka
// Connect headers.
var httpMutations = []mutation{
	// Redirects (issue 19, finding 6).
	{name: "HTTP: a redirect followed to any origin", file: "http.go",
		old: "\tif !sameOrigin(req.URL, via[0].URL) {", new: "\tif false {",
		tags: "dlq_http", run: httpRedirects},
	{name: "HTTP: a redirect to another port followed", file: "http.go",
		old: "\t\tportOf(a) == portOf(b)\n", new: "\t\ttrue\n",
		tags: "dlq_http", run: httpRedirects},
	{name: "HTTP: a redirect to another host name followed", file: "http.go",
		old: "strings.EqualFold(a.Hostname(), b.Hostname())", new: "true",
		tags: "dlq_http", run: httpRedirects},
	{name: "HTTP: a redirect from https to http followed", file: "http.go",
		old: "return strings.EqualFold(a.Scheme, b.Scheme) && ", new: "return ",
		tags: "dlq_http", run: httpRedirects},
	{name: "HTTP: a redirect to the same origin refused", file: "http.go",
		old: "\tif !sameOrigin(req.URL, via[0].URL) {", new: "\tif true {",
		tags: "dlq_http", run: httpRedirects},

	// 413 and other statuses (finding 8, and the misses of round 2).
	{name: "HTTP: a 413 never splits the body", file: "http.go",
		old: "\tif len(body) > 1 && errors.Is(err, errBodyTooLarge) {", new: "\tif false {",
		tags: "dlq_http", run: "TestHTTPSplitsABodyRefusedAsTooLarge"},
	{name: "HTTP: a half of a body refused by 413 posted under the whole body's key", file: "http.go",
		old:  "\terr := h.post(ctx, bt, body[:half], \"\", nil)\n\tif err2 := h.post(ctx, bt, body[half:], \"\", nil); err == nil {",
		new:  "\tkey := h.idempotencyKey(bt, body)\n\terr := h.post(ctx, bt, body[:half], key, nil)\n\tif err2 := h.post(ctx, bt, body[half:], key, nil); err == nil {",
		tags: "dlq_http", run: "TestHTTPSplitsABodyRefusedAsTooLarge"},
	{name: "HTTP: a 413 for a single entry not marked oversize", file: "http.go",
		old:  "\t\treturn 0, &permanentError{fmt.Errorf(\"%w: %w\", ErrOversize, err)}",
		new:  "\t\treturn 0, &permanentError{err}",
		tags: "dlq_http", run: "TestHTTPSplitsABodyRefusedAsTooLarge"},
	{name: "HTTP: other 4xx retried instead of falling through", file: "http.go",
		old: "\tdefault:\n\t\treturn 0, &permanentError{err}\n", new: "\tdefault:\n\t\treturn 0, err\n",
		tags: "dlq_http", run: "TestHTTPFailuresFallThroughToFile"},

	// Kafka Connect headers (round 2's misses).
	{name: "Kafka: Connect headers .partition and .offset swapped", file: "kafka.go",
		old:  "s.header(\"__connect.errors.partition\", s.putInt(int64(e.Source.Partition)))",
		new:  "s.header(\"__connect.errors.partition\", s.putInt(e.Source.Offset))",
		tags: "dlq_kafka", run: "TestKafkaConnectHeaders|TestKafkaMessageValueKeyTimestampAndHeaders"},
	{name: "Kafka: Connect headers .offset holds the partition", file: "kafka.go",
		old:  "s.header(\"__connect.errors.offset\", s.putInt(e.Source.Offset))",
		new:  "s.header(\"__connect.errors.offset\", s.putInt(int64(e.Source.Partition)))",
		tags: "dlq_kafka", run: "TestKafkaConnectHeaders|TestKafkaMessageValueKeyTimestampAndHeaders"},
	{name: "Kafka: the 8 KiB header cap dropped", file: "kafka.go",
		old: "s.bytes = append(s.bytes, v[:min(len(v), maxHeaderValue)]...)", new: "s.bytes = append(s.bytes, v...)",
		tags: "dlq_kafka", run: "TestKafkaConnectHeaders|TestKafkaMessageValueKeyTimestampAndHeaders"},
	{name: "Kafka: the header cap one byte short", file: "kafka.go",
		old: "s.bytes = append(s.bytes, v[:min(len(v), maxHeaderValue)]...)", new: "s.bytes = append(s.bytes, v[:min(len(v), maxHeaderValue-1)]...)",
		tags: "dlq_kafka", run: "TestKafkaConnectHeaders"},

	// CR, LF and NUL in config values (finding 11b).
	{name: "config: CR/LF/NUL in a header value accepted", file: "validate.go",
		old: "if b := value[i]; b < ' ' && b != '\\t' || b == 0x7f {", new: "if b := value[i]; false && b < ' ' {",
		run: configLineBreaks},
	{name: "config: any header name accepted", file: "validate.go",
		old: "\tif !httpToken(name) {", new: "\tif false {",
		run: configLineBreaks},
	{name: "config: CR/LF/NUL in brokers, SASL, suffix and stream accepted", file: "validate.go",
		old: "\tif i := strings.IndexAny(v, \"\\r\\n\\x00\"); i >= 0 {", new: "\tif i := strings.IndexAny(v, \"\\x01\"); i >= 0 {",
		run: configLineBreaks},
	{name: "${VAR}: a value with CR/LF/NUL expanded", file: "loadconfig.go",
		old: "\tif i := strings.IndexAny(value, \"\\r\\n\\x00\"); i >= 0 {", new: "\tif i := strings.IndexAny(value, \"\\x01\"); i >= 0 {",
		run: configLineBreaks},
	{name: "${VAR}: a value with CR/LF/NUL expanded through a default's reference", file: "loadconfig.go",
		old: "\t\tif missing {\n\t\t\treturn expandEnv(rest[1:], lookup)\n\t\t}\n\t\treturn envValue(body, name, value)",
		new: "\t\tif missing {\n\t\t\treturn expandEnv(rest[1:], lookup)\n\t\t}\n\t\treturn value, nil",
		run: configLineBreaks},

	// ${VAR} expansion (round 2's misses).
	{name: "${VAR}: ${VAR:-default} and ${VAR-default} swapped", file: "loadconfig.go",
		old: "\tmissing := !set || colon && value == \"\"", new: "\tmissing := !set || !colon && value == \"\"",
		run: "TestParseConfigExpandsEnvironment|TestParseConfigEnvironmentErrors"},
	{name: "${VAR}: ${VAR-default} takes the default for an empty value", file: "loadconfig.go",
		old: "\tmissing := !set || colon && value == \"\"", new: "\tmissing := !set || value == \"\"",
		run: "TestParseConfigExpandsEnvironment|TestParseConfigEnvironmentErrors"},
	{name: "${VAR}: an unterminated ${ accepted", file: "loadconfig.go",
		old: "\t\t\t\treturn \"\", fmt.Errorf(\"%q has no closing }\", s[i:])",
		new: "\t\t\t\tb.WriteString(s[i:])\n\t\t\t\treturn b.String(), nil",
		run: "TestParseConfigExpandsEnvironment|TestParseConfigEnvironmentErrors"},
	{name: "${VAR}: an unset ${VAR} is empty", file: "loadconfig.go",
		old: "\t\tif !set {\n\t\t\treturn \"\", fmt.Errorf(\"${%s}: environment variable %s is not set",
		new: "\t\tif false {\n\t\t\treturn \"\", fmt.Errorf(\"${%s}: environment variable %s is not set",
		run: "TestParseConfigExpandsEnvironment|TestParseConfigEnvironmentErrors"},
	{name: "${VAR}: $$ not unescaped", file: "loadconfig.go",
		old: "\t\tcase '$':\n\t\t\tb.WriteByte('$')\n\t\t\ti++\n", new: "\t\tcase '$':\n\t\t\tb.WriteByte('$')\n",
		run: "TestParseConfigExpandsEnvironment|TestParseConfigEnvironmentErrors"},
	{name: "HTTP bodies built ahead posted for the later entries that reuse their records", file: "http_ahead.go",
		old: "a.recs[i] != r || a.seqs[i] != r.seq || ", new: "a.recs[i] != r || ",
		tags: "dlq_http", run: "TestHTTPBodiesBuiltAheadBelongToTheirEntries"},
}
