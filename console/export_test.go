package console

// LedgerSQL is the schema page's own query, for the EXPLAIN test.
const LedgerSQL = ledgerSQL

// SetScanPerPage sets the bound of the jobs a page of the list reads.
func SetScanPerPage(c *Console, n int) { c.scanPerPage = n }

// CookieName is the console's session cookie's name.
func CookieName(c *Console) string { return c.cookieName() }
