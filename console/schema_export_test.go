package console

// LedgerSQL is the schema page's own query, for the EXPLAIN test.
const LedgerSQL = ledgerSQL
