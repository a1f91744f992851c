//go:build race

package projections

// raceEnabled: the race detector slows handlers several times over.
const raceEnabled = true
