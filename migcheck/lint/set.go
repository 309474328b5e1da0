package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Errors about a set's file names. They follow migcheck's rules for a set, so
// a folder the linter accepts is one migcheck accepts.
var (
	ErrBadFileName      = errors.New("lint: bad migration file name")
	ErrDuplicateVersion = errors.New("lint: duplicate migration version")
)

type setFile struct {
	version int64
	name    string
	content []byte
}

// readSet returns the .up.sql files at the root of fsys in version order.
// Like golang-migrate's names, but strict: any regular file other than
// dot-files and *.md must be NNNN_name.up.sql or NNNN_name.down.sql.
func readSet(fsys fs.FS) ([]setFile, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("lint: reading the migration folder: %w", err)
	}
	var errs []error
	var ups []setFile
	upAt := map[int64]string{}
	downAt := map[int64]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.EqualFold(path.Ext(name), ".md") {
			continue
		}
		version, up, err := parseFileName(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		seen := downAt
		if up {
			seen = upAt
		}
		if other, dup := seen[version]; dup {
			errs = append(errs, fmt.Errorf("%w: %s: version %d is also in %s; give one of them a new number", ErrDuplicateVersion, name, version, other))
			continue
		}
		seen[version] = name
		if !up {
			continue
		}
		content, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("lint: %w", err)
		}
		ups = append(ups, setFile{version: version, name: name, content: content})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].version < ups[j].version })
	return ups, nil
}

func parseFileName(name string) (version int64, up bool, err error) {
	bad := func(why string) (int64, bool, error) {
		return 0, false, fmt.Errorf("%w: %q %s; rename it to NNNN_name.up.sql or NNNN_name.down.sql", ErrBadFileName, name, why)
	}
	rest, up := strings.CutSuffix(name, ".up.sql")
	if !up {
		var ok bool
		if rest, ok = strings.CutSuffix(name, ".down.sql"); !ok {
			return bad("does not end in .up.sql or .down.sql")
		}
	}
	digits, title, ok := strings.Cut(rest, "_")
	if !ok || title == "" {
		return bad("has no _name after the version")
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return bad("does not start with a version number")
	}
	version, err = strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return bad("has a version too large for a bigint")
	}
	return version, up, nil
}
