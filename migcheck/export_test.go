package migcheck

// Clock is the time a Migrator waits on, for tests that advance a fake one
// instead of sleeping.
type Clock = clock

// SetClock makes m wait on c. Call it before m is used.
func SetClock(m *Migrator, c Clock) { m.clock = c }
