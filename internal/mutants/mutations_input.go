package main

// inputMutations break the defences against hostile input: the config loader, ${VAR}
// expansion, terminal escapes in the command, planted symlinks, fingerprints.
var inputMutations = []mutation{}
