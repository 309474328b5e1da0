// Package jsonbcheck checks, in Go, JSON that PostgreSQL's jsonb would refuse
// although encoding/json accepts it: a \u0000 escape (text has no NUL), a
// lone UTF-16 surrogate escape, invalid UTF-8 in a string, a number
// outside numeric's range. The checks are the server's own (its JSON
// lexer's and numeric_in's), made before anything is sent, so that a
// caller's transaction is not aborted by the refusal and the caller gets
// an error about its input, not a database error it would take for an
// outage. What is not checked (jsonb's size limits, a database encoding
// other than UTF-8) the callers map from the server's error.
package jsonbcheck

import (
	"fmt"
	"unicode/utf8"
)

// Problem says what in b, JSON that json.Valid accepts, PostgreSQL's jsonb
// refuses, or returns "" when it stores it. field names b in the message.
func Problem(field string, b []byte) string {
	// Go's JSON accepts invalid UTF-8 in strings; text refuses it.
	if !utf8.Valid(b) {
		return fmt.Sprintf("%s is not valid UTF-8, which PostgreSQL text and jsonb refuse: send UTF-8 text, and encode binary values (base64)", field)
	}
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			end, problem := stringProblem(b, i)
			if problem != "" {
				return fmt.Sprintf("%s: the string at byte %d holds %s", field, i, problem)
			}
			i = end
		case c == '-' || c >= '0' && c <= '9':
			end := i + 1
			for end < len(b) && (b[end] >= '0' && b[end] <= '9' || b[end] == '.' || b[end] == 'e' || b[end] == 'E' || b[end] == '+' || b[end] == '-') {
				end++
			}
			if !numericFits(b[i:end]) {
				return fmt.Sprintf("%s: the number %s at byte %d is outside what jsonb's numeric stores (up to 131,072 digits before the decimal point and 16,383 after it, the exponent counted in): send it as a string, or round it", field, shorten(b[i:end]), i)
			}
			i = end
		default:
			i++
		}
	}
	return ""
}

// stringProblem reads the JSON string starting at b[start] (its
// opening quote) and returns the index just past it, and what jsonb
// refuses in it: a \u0000 escape (text cannot hold NUL), or a UTF-16
// surrogate escape that is not a high one directly followed by a low one
// (jsonb decodes escapes to UTF-8, which has no surrogates).
func stringProblem(b []byte, start int) (end int, problem string) {
	const lone = `a lone UTF-16 surrogate escape, which jsonb refuses: write a character beyond U+FFFF as a surrogate pair (\ud83d\ude00) or as UTF-8, and binary values encoded (base64)`
	high := false // the last escape was a high surrogate, waiting for its low one
	for i := start + 1; i < len(b); {
		c := b[i]
		if c == '\\' && b[i+1] == 'u' {
			r := hex4(b[i+2 : i+6]) // json.Valid saw four hex digits
			i += 6
			switch {
			case r >= 0xd800 && r <= 0xdbff:
				if high {
					return 0, lone
				}
				high = true
			case r >= 0xdc00 && r <= 0xdfff:
				if !high {
					return 0, lone
				}
				high = false
			case high:
				return 0, lone
			case r == 0:
				return 0, `a \u0000 escape, which jsonb cannot store (PostgreSQL text has no NUL character): leave it out, or encode the value (base64)`
			}
			continue
		}
		if high {
			return 0, lone
		}
		switch c {
		case '"':
			return i + 1, ""
		case '\\':
			i += 2 // an escape other than \u; \" does not end the string
		default:
			i++ // UTF-8's continuation bytes are never '"' or '\\'
		}
	}
	return len(b), ""
}

// hex4 is the value of four hex digits.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// numericFits reports whether PostgreSQL's numeric, which holds jsonb's
// numbers, stores the JSON number n: its display scale (digits after the
// decimal point, the exponent taken in) at most 16,383, its first nonzero
// digit at most 131,071 places before the point (a base-10,000 weight
// that fits an int16), and its exponent under 2^30 - 1 in magnitude, as
// numeric_in reads it. A zero has no first nonzero digit: only its scale
// and exponent count.
func numericFits(n []byte) bool {
	const (
		maxScale    = 0x3fff        // NUMERIC_DSCALE_MAX
		maxPlace    = 4*(1<<15) - 1 // the weight, an int16, counts base-10,000 digits
		maxExponent = (1<<31 - 1) / 2
	)
	i := 0
	if i < len(n) && n[i] == '-' {
		i++
	}
	intStart := i
	for i < len(n) && n[i] >= '0' && n[i] <= '9' {
		i++
	}
	intDigits := i - intStart
	fracDigits, firstNonzero := 0, -1 // firstNonzero: index among the digits, integer part first
	for k := intStart; k < i; k++ {
		if n[k] != '0' {
			firstNonzero = k - intStart
			break
		}
	}
	if i < len(n) && n[i] == '.' {
		i++
		fracStart := i
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			if firstNonzero < 0 && n[i] != '0' {
				firstNonzero = intDigits + i - fracStart
			}
			i++
		}
		fracDigits = i - fracStart
	}
	exp := int64(0)
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		neg := false
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			neg = n[i] == '-'
			i++
		}
		for ; i < len(n); i++ {
			// numeric_in refuses |exponent| >= INT_MAX/2 before it looks
			// at the digits (even a zero's).
			if exp = exp*10 + int64(n[i]-'0'); exp >= maxExponent {
				return false
			}
		}
		if neg {
			exp = -exp
		}
	}
	if scale := int64(fracDigits) - exp; scale > maxScale {
		return false
	}
	if firstNonzero < 0 {
		return true // zero
	}
	// The place of the first nonzero digit: 0 for units, -1 for tenths.
	place := int64(intDigits-1-firstNonzero) + exp
	return place <= maxPlace
}

// shorten is n for a message, cut past 40 bytes.
func shorten(n []byte) string {
	if len(n) > 40 {
		return string(n[:40]) + "..."
	}
	return string(n)
}
