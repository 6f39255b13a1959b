package main

// readerMutations break the Reader: files listed, pinned, followed and resumed (reader*.go).
var readerMutations = []mutation{}
