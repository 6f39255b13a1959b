package main

// pruneMutations break pruning and rotation naming: what the file backend deletes, and when.
var pruneMutations = []mutation{}
