package main

// shutdownMutations break Close's deadline and the accounting of SendContext and Close.
var shutdownMutations = []mutation{}
