package main

// The fast read path's tests (issue 21): lines judged by their fields, a
// folder read in parallel, files passed over by their time, Last.
const (
	judgeTests    = "^TestJudge|^FuzzJudge$|^FuzzEnvelopeFields$|^TestParseEnvelopeFast|^FuzzParseEnvelopeFast$"
	parallelTests = "^TestReaderReadsFilesInParallel|^TestReaderReadAhead"
	spanTests     = "^TestReaderPassesOverFilesByTheirTime"
	lastTests     = "^TestReaderLast|^TestReaderFollowsFromTheLastEntries"
	goldenTest    = "^TestCommandsPrintWhatTheyPrinted"
)

// readMutations break the fast read path (envelope.go's fast path,
// internal/wire's scanner, reader*.go).
var readMutations = []mutation{
	// Lines judged by their fields.
	{name: "judge: a line whose payload is not base64 counted as an envelope", file: "reader.go",
		old: "if !scanEnvelope(line, w) || !wire.ValidBase64(w.payload) {", new: "if !scanEnvelope(line, w) || !wire.ValidBase64(nil) {",
		run: judgeTests},
	{name: "judge: a filtered id compared as written, escapes undecoded", file: "reader.go",
		old: "f.hasID(w.str[strField(fID)].bytes(scratch))", new: "f.hasID(w.str[strField(fID)].text)",
		run: judgeTests},
	{name: "judge: Since ignored on the fast path", file: "reader.go",
		old: "if !f.Since.IsZero() && t.Before(f.Since) || ", new: "if ",
		run: judgeTests},
	{name: "wire: a surrogate pair read as two U+FFFD", file: "internal/wire/scan.go",
		old: "if dec := utf16.DecodeRune(r, hex4(text[i+1:])); dec != utf8.RuneError {",
		new: "if dec := utf16.DecodeRune(r, hex4(text[i+1:])); false && dec != utf8.RuneError {",
		pkg: "./internal/wire", run: "^TestSpan|^FuzzScanner$"},
	{name: "wire: three padding characters taken as base64", file: "internal/wire/scan.go",
		old: "\t\tif s[n-1] == '=' {\n\t\t\tn--\n\t\t}", new: "\t\tfor n > 0 && s[n-1] == '=' {\n\t\t\tn--\n\t\t}",
		pkg: "./internal/wire", run: "^TestValidBase64|^FuzzValidBase64$"},
	{name: "fast path: a header's empty value decoded as absent (nil)", file: "envelope.go",
		old: "\t\t\tif h.hasValue {\n", new: "\t\t\tif h.hasValue && len(h.value) > 0 {\n",
		run: judgeTests},

	// A folder read in parallel.
	{name: "parallel read: the lines counted before a record dropped", file: "reader_file.go",
		old: "\t\tr.stats.read.Add(b.before[i].read + 1)\n", new: "\t\tr.stats.read.Add(1)\n",
		run: parallelTests},
	{name: "parallel read: a worker warns at once, out of order, from its goroutine", file: "reader_file.go",
		old: "\tif rd.batch != nil {\n\t\trd.batch.warns = append(rd.batch.warns, err)\n\t\treturn\n\t}\n",
		new: "\tif rd.batch != nil {\n\t\tgo rd.r.warn(err)\n\t\treturn\n\t}\n",
		run: parallelTests},
	{name: "parallel read: read-ahead unbounded (every file may start at once)", file: "reader_file.go",
		old: "inFlight := make(chan struct{}, workers+1)", new: "inFlight := make(chan struct{}, len(files)+1)",
		run: parallelTests},
	{name: "parallel read: the files ahead of the loop hold more than their budget", file: "reader_file.go",
		old: "budget := make(chan struct{}, tokens)", new: "budget := make(chan struct{}, 100*tokens)",
		run: parallelTests},
	{name: "parallel read: a batch of long lines takes one token of the budget, not one per tokenBytes", file: "reader_file.go",
		old: "return min(max(1, (n+tokenBytes-1)/tokenBytes), pool)", new: "return min(1, pool)",
		run: parallelTests},
	{name: "parallel read: a break does not wait for the workers", file: "reader_file.go",
		old: "\t\tcancel()\n\t\twg.Wait()\n", new: "\t\tcancel()\n",
		run: parallelTests, race: true}, // a worker still closes its file as the listing closes them all

	// Files passed over by the time in their names.
	{name: "span: files passed over by Since without the margin for clocks", file: "reader_list.go",
		old: "const spanSkew = 5 * time.Minute", new: "const spanSkew = 0",
		run: spanTests},
	{name: "span: files rotated before Since read all the same", file: "reader_list.go",
		old: "\t\tcase ok && at.Before(since):\n", new: "\t\tcase false && ok && at.Before(since):\n",
		run: spanTests},
	{name: "span: Until passes over files rotated after it", file: "reader_list.go",
		old: "\tif s := r.opts.Filter.Since; !s.IsZero() {\n\t\tsince = s.Add(-spanSkew)\n\t}\n",
		new: "\tif s := r.opts.Filter.Since; !s.IsZero() {\n\t\tsince = s.Add(-spanSkew)\n\t}\n\tif u := r.opts.Filter.Until; !u.IsZero() {\n\t\tfiles = slices.DeleteFunc(slices.Clone(files), func(f fileToRead) bool {\n\t\t\tat, ok := filelog.RotatedAt(filepath.Base(f.path))\n\t\t\treturn ok && at.After(u.Add(time.Hour))\n\t\t})\n\t}\n",
		run: spanTests},
	{name: "span: a missing id does not have the files passed over read", file: "reader_file.go",
		old: "if err != nil || !more || !slices.ContainsFunc(r.opts.Filter.IDs, func(id string) bool { return !found[id] }) {",
		new: "if true || err != nil || !more || !slices.ContainsFunc(r.opts.Filter.IDs, func(id string) bool { return !found[id] }) {",
		run: spanTests},
	{name: "span: several ids pass over files by their time, and what they find comes out of order", file: "reader_file.go",
		old: "len(r.opts.Filter.IDs) == 1", new: "len(r.opts.Filter.IDs) >= 1",
		run: spanTests + "|^TestReaderReadsSeveralIDsInOrder"},

	// Last.
	{name: "Last: every file read, not only until the last entries are found", file: "reader_file.go",
		old: "for i := len(files) - 1; i >= 0 && need > 0; i-- {", new: "for i := len(files) - 1; i >= 0; i-- {",
		run: lastTests},
	{name: "Last: the files' entries handed over newest file first", file: "reader_file.go",
		old: "\tfor i := len(held) - 1; i >= 0; i-- {\n\t\tfor _, rec := range held[i] {\n\t\t\tif !emit(rec) {\n\t\t\t\treturn nil",
		new: "\tfor i := range held {\n\t\tfor _, rec := range held[i] {\n\t\t\tif !emit(rec) {\n\t\t\t\treturn nil",
		run: lastTests},
	{name: "Last with Follow: the live files of older services not read to their end", file: "reader_follow.go",
		old: "\t\tif need == 0 && !files[i].live {", new: "\t\tif need == 0 {",
		run: lastTests},
}
