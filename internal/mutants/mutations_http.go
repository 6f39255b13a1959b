package main

// httpMutations break the HTTP backend's edges: redirects, 413, status handling, and the Kafka
// Connect headers.
var httpMutations = []mutation{}
